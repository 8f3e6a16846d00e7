import { describe, expect, it } from 'vitest';
import { Latch } from '../../src/rtp-bridge/latching.ts';

describe('symmetric RTP latching', () => {
  it('sends to the SDP address until a valid packet is heard, then to its source', () => {
    const latch = new Latch();
    latch.setExpected('10.0.0.1', 4000);
    expect([latch.state, latch.targetAddress, latch.targetPort]).toEqual(['learning', '10.0.0.1', 4000]);
    expect(latch.observe('203.0.113.7', 61000, true)).toBe(true);
    expect([latch.state, latch.targetAddress, latch.targetPort, latch.latches]).toEqual(['latched', '203.0.113.7', 61000, 1]);
  });

  it('does not latch on junk (not version-2 RTP)', () => {
    const latch = new Latch();
    latch.setExpected('10.0.0.1', 4000);
    expect(latch.observe('198.51.100.66', 1234, false)).toBe(false);
    expect(latch.latched).toBe(false);
    expect(latch.observe('203.0.113.7', 61000, true)).toBe(true);
    expect(latch.targetAddress).toBe('203.0.113.7');
  });

  it('with strictSource, drops and counts packets from any other source once latched (RTP Bleed)', () => {
    const latch = new Latch();
    latch.setExpected('10.0.0.1', 4000);
    latch.observe('203.0.113.7', 61000, true);
    expect(latch.observe('198.51.100.66', 61000, true)).toBe(false);
    expect(latch.observe('203.0.113.7', 61001, true)).toBe(false);
    expect(latch.strangerDrops).toBe(2);
    expect(latch.targetAddress).toBe('203.0.113.7');
    expect(latch.observe('203.0.113.7', 61000, true)).toBe(true);
  });

  it('without strictSource, relays strangers but keeps sending to the latched source', () => {
    const latch = new Latch({ strictSource: false });
    latch.setExpected('10.0.0.1', 4000);
    latch.observe('203.0.113.7', 61000, true);
    expect(latch.observe('198.51.100.66', 5000, true)).toBe(true);
    expect([latch.targetAddress, latch.targetPort, latch.strangerDrops]).toEqual(['203.0.113.7', 61000, 0]);
  });

  it('re-latches only after relearn() (a new offer/answer), or on any valid source with handover', () => {
    const latch = new Latch();
    latch.setExpected('10.0.0.1', 4000);
    latch.observe('203.0.113.7', 61000, true);
    latch.relearn();
    expect([latch.state, latch.targetAddress]).toEqual(['learning', '10.0.0.1']);
    latch.observe('198.51.100.9', 7000, true);
    expect([latch.targetAddress, latch.targetPort, latch.latches]).toEqual(['198.51.100.9', 7000, 2]);

    const mobile = new Latch({ handover: true });
    mobile.setExpected('10.0.0.1', 4000);
    mobile.observe('203.0.113.7', 61000, true);
    expect(mobile.observe('198.51.100.9', 7000, false)).toBe(false); // junk still cannot move it
    expect(mobile.observe('198.51.100.9', 7000, true)).toBe(true);
    expect(mobile.targetAddress).toBe('198.51.100.9');
  });

  it('trusting the SDP never moves the target and, strict, accepts only the SDP source (also v4-mapped)', () => {
    const latch = new Latch({ mode: 'trust-sdp' });
    latch.setExpected('192.0.2.10', 4000);
    expect(latch.observe('203.0.113.7', 61000, true)).toBe(false);
    expect(latch.observe('192.0.2.10', 4000, true)).toBe(true);
    expect(latch.observe('::ffff:192.0.2.10', 4000, true)).toBe(true);
    expect([latch.state, latch.targetAddress, latch.targetPort, latch.strangerDrops]).toEqual(['trusting', '192.0.2.10', 4000, 1]);
  });

  it('has no target for an unspecified address or port 0 (RFC 3264 §6 rejected stream, RFC 2543 hold)', () => {
    const latch = new Latch();
    latch.setExpected('0.0.0.0', 4000);
    expect(latch.hasTarget).toBe(false);
    latch.setExpected('10.0.0.1', 0);
    expect(latch.hasTarget).toBe(false);
    latch.observe('203.0.113.7', 61000, true);
    expect(latch.hasTarget).toBe(true);
  });

  it('with sendBeforeLatch false, has no target until latched', () => {
    const latch = new Latch({ sendBeforeLatch: false });
    latch.setExpected('10.0.0.1', 4000);
    expect(latch.hasTarget).toBe(false);
    latch.observe('203.0.113.7', 61000, true);
    expect(latch.isTarget('203.0.113.7', 61000)).toBe(true);
  });
});
