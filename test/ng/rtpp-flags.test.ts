import { describe, it, expect } from 'vitest';
import type { BencodeDict } from '../../src/ng/bencode.ts';
import { NgError } from '../../src/ng/errors.ts';
import { parseNgCommand } from '../../src/ng/ng-message.ts';
import { expandRtppFlags, tokenize } from '../../src/ng/rtpp-flags.ts';

const expand = (flags: string, extra: Record<string, unknown> = {}) =>
  ({ ...expandRtppFlags({ command: 'offer', ...extra, 'rtpp-flags': flags } as BencodeDict) });

describe('rtpp-flags (daemon-side flag parsing)', () => {
  it('turns the examples of docs/ng_control_protocol.md into ng keys', () => {
    expect(expand('replace-origin via-branch=auto-next strict-source label=callee OSRTP-accept transport-protocol=RTP/AVP address-family=IP4')).toEqual({
      command: 'offer',
      flags: ['replace-origin', 'strict-source', 'OSRTP-accept'],
      'via-branch': 'auto-next',
      label: 'callee',
      'transport-protocol': 'RTP/AVP',
      'address-family': 'IP4',
    });
    expect(expand('via-branch=auto-next OSRTP=[accept] codec=[transcode=[PCMA PCMU] accept=[AMR-WB AMR] strip=[EVS]]')).toEqual({
      command: 'offer',
      'via-branch': 'auto-next',
      OSRTP: ['accept'],
      codec: { transcode: ['PCMA', 'PCMU'], accept: ['AMR-WB', 'AMR'], strip: ['EVS'] },
    });
  });

  it('combines transport words as Kamailio and rtpengine do', () => {
    expect(expand('RTP/AVP')['transport-protocol']).toBe('RTP/AVP');
    expect(expand('UDP/TLS/RTP/SAVPF')['transport-protocol']).toBe('UDP/TLS/RTP/SAVPF');
    expect(expand('SRTP AVPF')['transport-protocol']).toBe('RTP/SAVPF');
    expect(expand('DTLS AVPF')['transport-protocol']).toBe('UDP/TLS/RTP/SAVPF');
    expect(expand('RTP/SAVPF RTP')['transport-protocol']).toBe('RTP/AVPF');
  });

  it('collects direction words and lets explicit flags override the proxy keys', () => {
    expect(expand('internal external')['direction']).toEqual(['internal', 'external']);
    expect(expand('direction=priv direction=pub')['direction']).toEqual(['priv', 'pub']);
    expect(expand('label=b', { label: 'a' })['label']).toBe('b');
    expect(expand('trust-address', { flags: ['symmetric'] })['flags']).toEqual(['symmetric', 'trust-address']);
  });

  it('feeds the same mapping as module-parsed flags', () => {
    const cmd = parseNgCommand({
      command: 'offer',
      'call-id': 'c',
      'from-tag': 'f',
      sdp: 'v=0\r\nm=audio 4000 RTP/AVP 0\r\n',
      'rtpp-flags': 'ICE=remove codec=[strip=[all] except=[PCMU]] trust-address SDES-off rtcp-mux-demux',
    } as BencodeDict);
    expect(cmd).toMatchObject({ flags: { to: 'plain', codecs: { allow: ['PCMU'] }, trustAddress: true }, warnings: [] });
  });

  it('rejects unbalanced or absurdly nested brackets with NgError', () => {
    for (const bad of ['codec=[strip=[PCMA', 'a]', '[[[[[[[[[[[[x]]]]]]]]]]]]', 'codec=[strip=[a] b]']) {
      expect(() => tokenize(bad), bad).toThrow(NgError);
    }
    expect(() => expandRtppFlags({ 'rtpp-flags': ['x'] } as BencodeDict)).toThrow(/must be a string/);
  });
});
