/**
 * SDP under fuzzing (targets/sdp.ts): parseSdp at 100,000 mutated real offers/answers, and the WebRTC ↔ plain
 * translation at 100,000 (each translation parses the input, builds an SDP and parses it again: ~20 s here).
 * Only SdpError (SDP_INVALID, SDP_UNSUPPORTED, NO_COMMON_CODEC) may come out.
 */
import { describe, it, expect } from 'vitest';
import { runTarget, share } from './run-target.ts';

describe('SDP fuzzing', () => {
  it('parseSdp: mutated offers and answers end in a session or SdpError, nothing else', async () => {
    const { stats } = await runTarget('sdp');
    expect(share(stats, 'ok')).toBeGreaterThan(0.2);
    expect(share(stats, 'SDP_INVALID')).toBeGreaterThan(0.1);
  }, 600_000);

  it('translateOffer/translateAnswer: every pairing and re-offers, only SdpError, and our SDP always parses', async () => {
    const { stats } = await runTarget('sdp-translate');
    for (const outcome of ['ok:offer', 'ok:reoffer', 'ok:answer', 'SDP_INVALID', 'SDP_UNSUPPORTED']) {
      expect(stats.outcomes[outcome] ?? 0, outcome).toBeGreaterThan(stats.iterations / 100);
    }
  }, 600_000);
});
