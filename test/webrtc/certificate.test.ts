import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { certificateFingerprint, getProcessCertificate, normalizeFingerprint } from '../../src/webrtc/certificate.ts';

describe('the process DTLS certificate', () => {
  it('is one ECDSA P-256 self-signed certificate, reused by every caller', async () => {
    const [a, b] = await Promise.all([getProcessCertificate(), getProcessCertificate()]);
    expect(a).toBe(b);
    const x509 = new X509Certificate(a.certPem);
    expect(x509.publicKey.asymmetricKeyType).toBe('ec');
    expect(x509.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(a.notAfter.getTime()).toBeGreaterThan(Date.now());
  });

  it('advertises its sha-256 fingerprint in SDP form (upper-case hex octets joined by colons)', async () => {
    const { fingerprint, certPem, der } = await getProcessCertificate();
    expect(fingerprint.algorithm).toBe('sha-256');
    expect(fingerprint.value).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(fingerprint.value).toBe(new X509Certificate(certPem).fingerprint256);
    expect(certificateFingerprint(der, 'sha-1')).toBe(new X509Certificate(certPem).fingerprint);
  });

  it('normalises fingerprints for comparison and refuses non-hex', () => {
    expect(normalizeFingerprint(' ab:cd:0f ')).toBe('AB:CD:0F');
    expect(normalizeFingerprint('AB:CD:0')).toBeUndefined();
    expect(normalizeFingerprint('ABCD')).toBeUndefined();
  });
});
