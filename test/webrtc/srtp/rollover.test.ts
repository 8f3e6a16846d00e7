import { describe, expect, it } from 'vitest';
import { SrtpFailure } from '../../../src/webrtc/srtp/failure.ts';
import { estimateRoc, packetIndex } from '../../../src/webrtc/srtp/rollover.ts';

describe('ROC estimation (RFC 3711 §3.3.1, Appendix A)', () => {
  it('keeps the ROC for packets near the highest sequence number', () => {
    expect(estimateRoc(5, 1000, 1001)).toBe(5);
    expect(estimateRoc(5, 1000, 990)).toBe(5);
    expect(estimateRoc(5, 40000, 39000)).toBe(5);
  });

  it('guesses ROC + 1 when the sequence number wrapped past 65535', () => {
    expect(estimateRoc(5, 65535, 0)).toBe(6);
    expect(estimateRoc(5, 65500, 20)).toBe(6);
  });

  it('guesses ROC − 1 for a late packet sent before the last wrap', () => {
    expect(estimateRoc(6, 3, 65533)).toBe(5);
    expect(estimateRoc(6, 100, 65000)).toBe(5);
  });

  it('derives the index from the highest index seen, starting a new stream at ROC 0', () => {
    expect(packetIndex(-1, 65530)).toBe(65530);
    expect(packetIndex(65535, 0)).toBe(65536);
    expect(packetIndex(3 * 65536 + 2, 65534)).toBe(2 * 65536 + 65534);
  });

  it('refuses an index that would precede the stream (ROC −1) or overflow the 48-bit index', () => {
    expect(packetIndex(5, 65530)).toBe(SrtpFailure.TooOld);
    expect(packetIndex(0xffffffff * 65536 + 65535, 1)).toBe(SrtpFailure.IndexExhausted);
  });
});
