/**
 * The DTLS identity is parsed once per certificate, not once per leg (werift-dtls.ts replaces CipherContext.parseX509 with dtls-native-crypto.ts localIdentity):
 * every werift DTLS context built with the same PEM gets the same parsed certificate and key; another
 * certificate gets its own. Handshakes with the shared parse are covered by dtls-transport.test.ts.
 */
import { describe, it, expect } from 'vitest';
import { createDtlsCertificate, getProcessCertificate, type DtlsCertificate } from '../../src/webrtc/certificate.ts';
import { dtls } from '../../src/webrtc/werift-dtls.ts';

interface ParsedContext {
  localCert: Buffer;
  localPrivateKey: { sign(data: Buffer, hash: string): Buffer };
}

function contextFor(certificate: DtlsCertificate): ParsedContext {
  const CipherContext = dtls.CipherContext as unknown as new (type: number, cert: string, key: string, sh: unknown) => ParsedContext;
  return new CipherContext(1, certificate.certPem, certificate.keyPem, certificate.signatureHash);
}

describe('DTLS certificate parsing', () => {
  it('parses the per-process certificate once and shares the result between legs', async () => {
    const certificate = await getProcessCertificate();
    const a = contextFor(certificate);
    const b = contextFor(certificate);
    expect(b.localCert).toBe(a.localCert);
    expect(b.localPrivateKey).toBe(a.localPrivateKey);
    // What the fingerprint in SDP names is what werift sends (RFC 8122 §5).
    expect(Buffer.compare(Buffer.from(a.localCert), certificate.der)).toBe(0);
  });

  it('keeps certificates apart', async () => {
    const one = await getProcessCertificate();
    const other = await createDtlsCertificate();
    const a = contextFor(one);
    const b = contextFor(other);
    expect(Buffer.compare(Buffer.from(b.localCert), other.der)).toBe(0);
    expect(Buffer.compare(Buffer.from(a.localCert), Buffer.from(b.localCert))).not.toBe(0);
    expect(b.localPrivateKey).not.toBe(a.localPrivateKey);
  });
});
