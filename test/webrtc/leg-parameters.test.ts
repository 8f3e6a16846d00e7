import { describe, expect, it } from 'vitest';
import { decideDtlsRole, hostCandidates, setupForRole, validateRemoteParameters } from '../../src/webrtc/leg-parameters.ts';

const valid = {
  iceUfrag: 'abcd',
  icePwd: 'abcdefghijklmnopqrstuv',
  fingerprints: [{ algorithm: 'sha-256', value: 'AB:CD' }],
  setup: 'actpass' as const,
};

describe('WebRTC leg parameters', () => {
  it('maps the remote a=setup to our DTLS role (RFC 5763 §5) and answers actpass as passive by default', () => {
    expect(decideDtlsRole('active', undefined, 'passive')).toBe('server');
    expect(decideDtlsRole('passive', undefined, 'passive')).toBe('client');
    expect(decideDtlsRole('actpass', undefined, 'passive')).toBe('server');
    expect(decideDtlsRole('actpass', undefined, 'active')).toBe('client');
    expect(decideDtlsRole('actpass', 'client', 'passive')).toBe('client'); // a re-offer keeps the association's role
    expect([setupForRole(undefined), setupForRole('server'), setupForRole('client')]).toEqual(['actpass', 'passive', 'active']);
  });

  it('validates ice-ufrag/ice-pwd length and charset (RFC 8839 §5.4), setup and fingerprints (RFC 8122 §5)', () => {
    expect(() => validateRemoteParameters(valid)).not.toThrow();
    const bad = [
      { ...valid, iceUfrag: 'abc' },
      { ...valid, iceUfrag: 'ab:cd' },
      { ...valid, icePwd: 'short' },
      { ...valid, setup: 'holdconn' as never },
      { ...valid, fingerprints: [] },
      { ...valid, fingerprints: [{ algorithm: 'md5', value: 'AB:CD' }] },
      { ...valid, fingerprints: [{ algorithm: 'sha-256', value: 'xyz' }] },
    ];
    for (const params of bad) {
      expect(() => validateRemoteParameters(params)).toThrowError(expect.objectContaining({ code: 'WEBRTC_INVALID_REMOTE_PARAMETERS', status: 488 }));
    }
  });

  it('makes one host candidate per advertised address with RFC 8445 §5.1.2.1 priorities, and refuses bad addresses', () => {
    const candidates = hostCandidates(['127.0.0.1', '127.0.0.2'], 40000, 'IPv4');
    expect(candidates).toEqual([
      { foundation: '1', component: 1, transport: 'udp', priority: 2130706431, ip: '127.0.0.1', port: 40000, type: 'host' },
      { foundation: '2', component: 1, transport: 'udp', priority: 2130706175, ip: '127.0.0.2', port: 40000, type: 'host' },
    ]);
    for (const addresses of [[], ['gateway.example.com'], ['0.0.0.0'], ['::1']]) {
      expect(() => hostCandidates(addresses, 40000, 'IPv4')).toThrowError(expect.objectContaining({ code: 'WEBRTC_CONFIG' }));
    }
  });
});
