import { createPublicKey, generateKeyPairSync, verify, X509Certificate } from 'node:crypto';
import { createRequire } from 'node:module';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { GatewayError } from '../../src/errors.ts';
import { createDtlsCertificate, type DtlsCertificate } from '../../src/webrtc/certificate.ts';
import {
  ecdhePreMasterSecret,
  generateEcdheKeyPair,
  localIdentity,
  NamedCurve,
  nativeDtlsCryptoStats,
} from '../../src/webrtc/dtls-native-crypto.ts';
import { DtlsTransport, type DtlsRole, type DtlsSrtpSession } from '../../src/webrtc/dtls-transport.ts';
import { dtls, setDtlsCryptoBackend } from '../../src/webrtc/werift-dtls.ts';

/**
 * The node:crypto replacements for werift-dtls' JavaScript ECDHE and certificate handling: same results as
 * werift's own implementations (tweetnacl, @noble/curves), the RFC 7748 vectors, refusal of bad peer keys, and —
 * the part that breaks if werift changes how it calls them — a real handshake that goes through them and never
 * through the JavaScript curves.
 */

// The JavaScript implementations werift-dtls itself would use, resolved from werift-dtls' own location.
const weriftRequire = createRequire(createRequire(import.meta.url).resolve('werift-dtls/lib/dtls/src/cipher/prf.js'));
const nacl = weriftRequire('tweetnacl') as { scalarMult: (n: Uint8Array, p: Uint8Array) => Uint8Array; box: { keyPair: () => { publicKey: Uint8Array; secretKey: Uint8Array } } };
const { p256 } = weriftRequire('@noble/curves/p256') as {
  p256: { getSharedSecret: (priv: Uint8Array, pub: Uint8Array) => Uint8Array; getPublicKey: (priv: Uint8Array, compressed: boolean) => Uint8Array; utils: { randomPrivateKey: () => Uint8Array } };
};

const namedCurveModule = weriftRequire('./namedCurve.js') as { generateKeyPair: (curve: number) => unknown };

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

function errorOf(f: () => unknown): GatewayError {
  try {
    f();
  } catch (error) {
    return error as GatewayError;
  }
  throw new Error('did not throw');
}

describe('ECDHE with node:crypto', () => {
  it('computes the RFC 7748 §6.1 X25519 shared secret from raw keys', () => {
    const alicePrivate = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    const bobPublic = hex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    const bobPrivate = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
    const alicePublic = hex('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
    expect(ecdhePreMasterSecret(bobPublic, alicePrivate, NamedCurve.x25519).toString('hex')).toBe(shared);
    expect(ecdhePreMasterSecret(alicePublic, bobPrivate, NamedCurve.x25519).toString('hex')).toBe(shared);
  });

  it('agrees with tweetnacl on X25519 both ways, with 32-octet raw keys on the wire', () => {
    for (let i = 0; i < 5; i++) {
      const ours = generateEcdheKeyPair(NamedCurve.x25519);
      const theirs = nacl.box.keyPair();
      expect(ours.publicKey).toHaveLength(32);
      expect(ours.privateKey).toHaveLength(32);
      const native = ecdhePreMasterSecret(Buffer.from(theirs.publicKey), ours.privateKey, NamedCurve.x25519);
      expect(native.toString('hex')).toBe(Buffer.from(nacl.scalarMult(theirs.secretKey, ours.publicKey)).toString('hex'));
      // The raw private key we hand werift is the real one (tweetnacl derives the same public key from it).
      expect(Buffer.from(nacl.scalarMult(ours.privateKey, Buffer.from('09'.padEnd(64, '0'), 'hex'))).equals(ours.publicKey)).toBe(true);
    }
  });

  it('agrees with @noble/curves on P-256: uncompressed points, the x-coordinate as premaster secret (RFC 8422 §5.10)', () => {
    for (let i = 0; i < 5; i++) {
      const ours = generateEcdheKeyPair(NamedCurve.secp256r1);
      expect(ours.publicKey).toHaveLength(65);
      expect(ours.publicKey[0]).toBe(4);
      const theirPrivate = p256.utils.randomPrivateKey();
      const theirPublic = Buffer.from(p256.getPublicKey(theirPrivate, false));
      const expected = Buffer.from(p256.getSharedSecret(theirPrivate, ours.publicKey)).subarray(1);
      expect(ecdhePreMasterSecret(theirPublic, ours.privateKey, NamedCurve.secp256r1).equals(expected)).toBe(true);
      // A private key we did not generate (not in the key-object cache) is imported from its raw bytes.
      const copy = Buffer.from(ours.privateKey);
      expect(ecdhePreMasterSecret(theirPublic, copy, NamedCurve.secp256r1).equals(expected)).toBe(true);
    }
  });

  it('refuses low-order X25519 keys (all-zero secret, RFC 8422 §5.11), bad lengths, off-curve points and unknown curves', () => {
    const x = generateEcdheKeyPair(NamedCurve.x25519);
    const p = generateEcdheKeyPair(NamedCurve.secp256r1);
    const offCurve = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]);
    const cases: Array<() => unknown> = [
      () => ecdhePreMasterSecret(Buffer.alloc(32), x.privateKey, NamedCurve.x25519),
      () => ecdhePreMasterSecret(Buffer.alloc(31, 9), x.privateKey, NamedCurve.x25519),
      () => ecdhePreMasterSecret(offCurve, p.privateKey, NamedCurve.secp256r1),
      () => ecdhePreMasterSecret(p.publicKey.subarray(0, 33), p.privateKey, NamedCurve.secp256r1),
      () => ecdhePreMasterSecret(x.publicKey, x.privateKey, 24),
      () => generateEcdheKeyPair(24),
    ];
    for (const f of cases) expect(errorOf(f).code).toBe('DTLS_HANDSHAKE_FAILED');
  });
});

describe('our certificate and key, parsed once per process', () => {
  let certificate: DtlsCertificate;
  beforeAll(async () => {
    certificate = await createDtlsCertificate();
  });

  it('returns the same DER and signer on every call, and signatures verify with the certificate', () => {
    const first = localIdentity(certificate.certPem, certificate.keyPem);
    expect(localIdentity(certificate.certPem, certificate.keyPem)).toBe(first);
    expect(first.der.equals(certificate.der)).toBe(true);
    const data = Buffer.from('client_random + server_random + ServerECDHParams');
    const signature = first.signer.sign(data, 'sha256');
    expect(verify('sha256', data, new X509Certificate(certificate.der).publicKey, signature)).toBe(true);
    expect(first.signer.toPEM().toString()).toBe(certificate.keyPem);
  });

  it('keeps a certificate paired with a different key apart, and refuses an unparsable one with WEBRTC_CONFIG', () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const odd = localIdentity(certificate.certPem, other);
    expect(odd).not.toBe(localIdentity(certificate.certPem, certificate.keyPem));
    const data = Buffer.from('x');
    expect(verify('sha256', data, createPublicKey(other), odd.signer.sign(data, 'sha256'))).toBe(true);
    expect(errorOf(() => localIdentity('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', other)).code).toBe('WEBRTC_CONFIG');
  });
});

describe('werift-dtls handshakes go through node:crypto', () => {
  let alice: DtlsCertificate;
  let bob: DtlsCertificate;
  const curves = dtls.NamedCurveAlgorithmList as number[];
  const originalCurves = [...curves];

  beforeAll(async () => {
    [alice, bob] = await Promise.all([createDtlsCertificate(), createDtlsCertificate()]);
  });

  afterEach(() => {
    setDtlsCryptoBackend('native');
    curves.splice(0, curves.length, ...originalCurves);
    vi.restoreAllMocks();
  });

  /** Two transports back to back in memory; resolves with both sessions. */
  function handshake(): Promise<Record<DtlsRole, DtlsSrtpSession>> {
    const ends = {} as Record<DtlsRole, DtlsTransport>;
    const sessions = {} as Record<DtlsRole, DtlsSrtpSession>;
    return new Promise((resolve, reject) => {
      for (const role of ['server', 'client'] as const) {
        const peer: DtlsRole = role === 'server' ? 'client' : 'server';
        ends[role] = new DtlsTransport({
          role,
          certificate: role === 'server' ? bob : alice,
          remoteFingerprints: [(role === 'server' ? alice : bob).fingerprint],
          send: (packet) => void setImmediate(() => ends[peer].handleDatagram(packet)),
          onConnected: (session) => {
            sessions[role] = session;
            if (sessions.server !== undefined && sessions.client !== undefined) {
              ends.server.close();
              ends.client.close();
              resolve(sessions);
            }
          },
          onFailed: reject,
        });
      }
      ends.server.start();
      ends.client.start();
    });
  }

  it.each([
    ['x25519', NamedCurve.x25519],
    ['secp256r1', NamedCurve.secp256r1],
  ] as const)('%s: every key pair, shared secret and signature of a handshake is native, none JavaScript', async (_name, curve) => {
    // werift's client offers NamedCurveAlgorithmList in order and its server takes the first it supports.
    curves.sort((a, b) => (a === curve ? -1 : b === curve ? 1 : 0));
    await handshake(); // parses each certificate once, if no earlier test did
    const scalarMult = vi.spyOn(nacl, 'scalarMult');
    const sharedSecret = vi.spyOn(p256, 'getSharedSecret');
    const keyPair = vi.spyOn(namedCurveModule, 'generateKeyPair');
    const before = { ...nativeDtlsCryptoStats };
    const sessions = await handshake();
    expect(sessions.client.local).toEqual(sessions.server.remote);
    expect(nativeDtlsCryptoStats.keyPairs - before.keyPairs).toBe(2);
    expect(nativeDtlsCryptoStats.sharedSecrets - before.sharedSecrets).toBe(2);
    // The server signs its ServerKeyExchange, the client its CertificateVerify.
    expect(nativeDtlsCryptoStats.signatures - before.signatures).toBe(2);
    expect(nativeDtlsCryptoStats.identities - before.identities).toBe(0);
    expect(scalarMult).not.toHaveBeenCalled();
    expect(sharedSecret).not.toHaveBeenCalled();
    expect(keyPair.mock.calls).toEqual([[curve], [curve]]);
  });

  it("switches back to werift's own JavaScript (for comparison) and still completes, with our checks passing", async () => {
    setDtlsCryptoBackend('werift');
    const scalarMult = vi.spyOn(nacl, 'scalarMult');
    const before = { ...nativeDtlsCryptoStats };
    const sessions = await handshake();
    expect(sessions.server.local).toEqual(sessions.client.remote);
    expect(scalarMult).toHaveBeenCalledTimes(2);
    expect(nativeDtlsCryptoStats.keyPairs).toBe(before.keyPairs);
    expect(nativeDtlsCryptoStats.sharedSecrets).toBe(before.sharedSecrets);
  });
});
