import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PlainRtpLeg } from '../../src/rtp-bridge/plain-leg.ts';
import { PortPool } from '../../src/rtp-bridge/port-pool.ts';
import { Peer, rr, rtp } from './packets.ts';

/**
 * PlainRtpLeg hands a whole buffer to dgram as it is and a longer one with offset and length (a shortened
 * RTCP compound, a caller's scratch buffer): either way exactly `length` octets go out, from the first.
 */
let pool: PortPool;
let far: Peer;
let leg: PlainRtpLeg;

beforeEach(async () => {
  pool = new PortPool({ min: 21160, max: 21179, bindAddress: '127.0.0.1' });
  far = await Peer.bind();
  leg = await PlainRtpLeg.create(pool);
  leg.setRemote({ address: '127.0.0.1', port: far.port, rtcpMux: true });
});
afterEach(() => {
  leg.close();
  far.close();
  pool.close();
});

describe('PlainRtpLeg sends exactly the octets asked for', () => {
  it('sends RTP from a whole buffer and from the head of a longer one', async () => {
    const whole = rtp({ seq: 1, ts: 160, ssrc: 0x7777 });
    const scratch = Buffer.alloc(whole.length + 40, 0xee);
    const second = rtp({ seq: 2, ts: 320, ssrc: 0x7777 });
    second.copy(scratch);
    expect(leg.sendRtp(whole, whole.length)).toBe(true);
    expect(leg.sendRtp(scratch, second.length)).toBe(true);
    await far.waitFor(2);
    expect(far.received.map((r) => r.buf)).toEqual([whole, second]);
  });

  it('sends RTCP from a whole buffer and from the head of a longer one', async () => {
    const report = rr(0x7777);
    const scratch = Buffer.alloc(report.length + 12, 0xee);
    report.copy(scratch);
    expect(leg.sendRtcp(report, report.length)).toBe(true);
    expect(leg.sendRtcp(scratch, report.length)).toBe(true);
    await far.waitFor(2);
    expect(far.received.map((r) => r.buf)).toEqual([report, report]);
  });
});
