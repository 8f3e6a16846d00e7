import { isIP } from 'node:net';
import { isFingerprintAlgorithm, normalizeFingerprint } from './certificate.ts';
import type { DtlsRole } from './dtls-transport.ts';
import { InvalidRemoteParametersError, WebRtcConfigError } from './errors.ts';

/**
 * The ICE/DTLS parameters a WebRTC leg exchanges through SDP (the SDP translation module turns them into
 * a=ice-ufrag/ice-pwd/ice-lite/candidate/fingerprint/setup lines), their validation, and the a=setup → DTLS
 * role decision.
 */

export type DtlsSetup = 'active' | 'passive' | 'actpass';

export interface IceCandidate {
  foundation: string;
  component: 1;
  transport: 'udp';
  priority: number;
  ip: string;
  port: number;
  type: 'host';
}

export interface LocalParameters {
  iceUfrag: string;
  icePwd: string;
  iceLite: true;
  candidates: IceCandidate[];
  fingerprint: { algorithm: 'sha-256'; value: string };
}

export interface RemoteCandidate {
  foundation?: string;
  component?: number;
  transport?: string;
  priority?: number;
  ip: string;
  port: number;
  type?: string;
}

export interface RemoteParameters {
  iceUfrag: string;
  icePwd: string;
  fingerprints: ReadonlyArray<{ algorithm: string; value: string }>;
  setup: DtlsSetup;
  /**
   * Accepted for completeness and ignored: a lite agent pairs with the source address of the nominating check
   * (RFC 8445 §7.3.2) and never sends checks to remote candidates itself.
   */
  candidates?: readonly RemoteCandidate[];
}

/** RFC 8839 §5.4: ice-char = ALPHA / DIGIT / "+" / "/"; ufrag 4–256 chars, pwd 22–256 chars. */
const ICE_CHARS = /^[A-Za-z0-9+/]+$/;

export function validateRemoteParameters(params: RemoteParameters): void {
  const { iceUfrag, icePwd, fingerprints, setup } = params;
  if (typeof iceUfrag !== 'string' || iceUfrag.length < 4 || iceUfrag.length > 256 || !ICE_CHARS.test(iceUfrag)) {
    throw new InvalidRemoteParametersError('ice-ufrag must be 4–256 ice-chars (RFC 8839 §5.4)');
  }
  if (typeof icePwd !== 'string' || icePwd.length < 22 || icePwd.length > 256 || !ICE_CHARS.test(icePwd)) {
    throw new InvalidRemoteParametersError('ice-pwd must be 22–256 ice-chars (RFC 8839 §5.4)');
  }
  if (setup !== 'active' && setup !== 'passive' && setup !== 'actpass') {
    throw new InvalidRemoteParametersError(`a=setup:${String(setup)} is not usable for DTLS-SRTP (RFC 5763 §5)`);
  }
  const usable = (fingerprints ?? []).filter(
    (fp) => isFingerprintAlgorithm(fp.algorithm.trim().toLowerCase()) && normalizeFingerprint(fp.value) !== undefined,
  );
  if (usable.length === 0) {
    throw new InvalidRemoteParametersError('no a=fingerprint with a supported hash function (RFC 8122 §5: sha-256 or stronger; md2/md5 are refused)');
  }
}

/**
 * RFC 8445 §5.1.2.1 priority for our host candidates: type preference 126 (host), local preference descending in
 * the operator's order, component 1 (rtcp-mux: one component).
 */
export function hostCandidates(addresses: readonly string[], port: number, socketFamily: string): IceCandidate[] {
  if (addresses.length === 0) throw new WebRtcConfigError('a WebRTC leg needs at least one advertised address');
  return addresses.map((ip, index) => {
    const family = isIP(ip);
    if (family === 0) throw new WebRtcConfigError(`advertised address ${ip} is not an IP literal`);
    if (ip === '0.0.0.0' || ip === '::') throw new WebRtcConfigError('the unspecified address cannot be a candidate');
    if (family === 6 && socketFamily === 'IPv4') throw new WebRtcConfigError(`advertised IPv6 address ${ip} on an IPv4 socket`);
    return {
      foundation: String(index + 1),
      component: 1 as const,
      transport: 'udp' as const,
      priority: 126 * 2 ** 24 + (65535 - index) * 2 ** 8 + (256 - 1),
      ip,
      port,
      type: 'host' as const,
    };
  });
}

/**
 * a=setup → our DTLS role (RFC 5763 §5, RFC 4145 §4): the remote active → we are server; remote passive → we are
 * client; remote actpass (it offers) → we choose. We answer passive by default: an ICE-lite gateway learns the
 * browser's address only from its checks, and as server it needs no address to begin with — the browser's
 * ClientHello follows its first successful check, saving the round trip a client would spend waiting for a
 * nomination. An existing association keeps its role when the re-offer allows (RFC 8842 §5.2).
 */
export function decideDtlsRole(remoteSetup: DtlsSetup, current: DtlsRole | undefined, whenAnswering: 'active' | 'passive'): DtlsRole {
  if (remoteSetup === 'active') return 'server';
  if (remoteSetup === 'passive') return 'client';
  if (current !== undefined) return current;
  return whenAnswering === 'active' ? 'client' : 'server';
}

export function setupForRole(role: DtlsRole | undefined): DtlsSetup {
  if (role === undefined) return 'actpass';
  return role === 'server' ? 'passive' : 'active';
}
