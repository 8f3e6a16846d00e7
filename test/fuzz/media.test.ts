/**
 * The media socket's parsers under fuzzing (targets/media.ts): 100,000 mutated STUN, DTLS, RTP and RTCP datagrams
 * through the RFC 7983 demultiplexer, the STUN parser (with integrity check and our responses), checkRtp,
 * checkRtcpCompound and the DTLS record scan. Nothing may throw; offsets the checks vouch for stay in the packet.
 */
import { describe, it, expect } from 'vitest';
import { runTarget, share } from './run-target.ts';

describe('media packet fuzzing', () => {
  it('demux, STUN, RTP, RTCP and DTLS scanning never throw and never read outside the datagram', async () => {
    const { stats } = await runTarget('media');
    for (const outcome of ['stun:ok', 'stun:malformed', 'stun:bad-fingerprint', 'rtp:ok', 'rtp:bad-extension', 'rtcp:ok', 'rtcp:bad-length', 'dtls:ok', 'dtls:malformed']) {
      expect(stats.outcomes[outcome] ?? 0, outcome).toBeGreaterThan(stats.iterations / 1000);
    }
    expect(share(stats, 'unknown')).toBeLessThan(0.2);
  }, 600_000);
});
