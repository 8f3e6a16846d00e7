import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PlainRtpLeg } from '../../src/rtp-bridge/plain-leg.ts';
import { PortPool } from '../../src/rtp-bridge/port-pool.ts';
import { Counter, Peer, rr, rtp, sdes, settle } from './packets.ts';

let pool: PortPool;
let peerPool: PortPool; // gives the far end adjacent RTP/RTCP ports, like a real SIP endpoint
const peers: Peer[] = [];
const legs: PlainRtpLeg[] = [];

async function peer(): Promise<Peer> {
  const p = await Peer.bind();
  peers.push(p);
  return p;
}
async function leg(...args: Parameters<typeof PlainRtpLeg.create> extends [unknown, ...infer R] ? R : never): Promise<PlainRtpLeg> {
  const l = await PlainRtpLeg.create(pool, ...args);
  legs.push(l);
  return l;
}
/** A leg whose peer's SDP names a private address (10.0.0.1:4000, never sent to), counting the RTP it receives. */
async function nattedLeg(): Promise<{ l: PlainRtpLeg; got: Counter }> {
  const l = await leg();
  l.setRemote({ address: '10.0.0.1', port: 4000 }); // private address from the peer's SDP: never sent to here
  const got = new Counter();
  l.onRtp(got.inc);
  return { l, got };
}
/** A leg with rtcp-mux towards a loopback peer `far`, counting the RTP and the RTCP it receives. */
async function muxedLeg(): Promise<{ l: PlainRtpLeg; far: Peer; rtpGot: Counter; rtcpGot: Counter }> {
  const l = await leg();
  const far = await peer();
  l.setRemote({ address: '127.0.0.1', port: far.port, rtcpMux: true });
  const rtpGot = new Counter();
  const rtcpGot = new Counter();
  l.onRtp(rtpGot.inc);
  l.onRtcp(rtcpGot.inc);
  return { l, far, rtpGot, rtcpGot };
}
const packet = (seq: number) => rtp({ seq, ts: seq * 160, ssrc: 0x5555 });

beforeEach(() => {
  pool = new PortPool({ min: 21100, max: 21139, bindAddress: '127.0.0.1' });
  peerPool = new PortPool({ min: 21140, max: 21159, bindAddress: '127.0.0.1' });
});
afterEach(() => {
  for (const l of legs.splice(0)) l.close();
  for (const p of peers.splice(0)) p.close();
  pool.close();
  peerPool.close();
});

describe('PlainRtpLeg latching', () => {
  it('answers the NATed peer at the source its RTP came from, not at its private SDP address', async () => {
    const { l, got } = await nattedLeg();
    const natted = await peer();
    await natted.send(packet(1), l.port);
    await got.waitFor(1);
    expect([l.rtpLatch.targetAddress, l.rtpLatch.targetPort]).toEqual(['127.0.0.1', natted.port]);
    const out = packet(77);
    expect(l.sendRtp(out, out.length)).toBe(true);
    await natted.waitFor(1);
    expect(natted.received[0]).toMatchObject({ address: '127.0.0.1', port: l.port });
    expect(natted.received[0]!.buf.equals(out)).toBe(true);
  });

  it('with sendBeforeLatch off, sends nothing before latching', async () => {
    const l = await leg({ latching: { sendBeforeLatch: false } });
    l.setRemote({ address: '10.0.0.1', port: 4000 });
    const out = packet(1);
    expect(l.sendRtp(out, out.length)).toBe(false);
    expect(l.stats.packetsSent).toBe(0);
  });

  it('sends to the SDP address before anything is heard', async () => {
    const l = await leg();
    const far = await peer();
    l.setRemote({ address: '127.0.0.1', port: far.port });
    const out = packet(5);
    expect(l.sendRtp(out, out.length)).toBe(true);
    await far.waitFor(1);
    expect(far.received[0]!.port).toBe(l.port);
  });

  it('drops and counts RTP from a second source once latched (strict source)', async () => {
    const { l, got } = await nattedLeg();
    const first = await peer();
    const stranger = await peer();
    await first.send(packet(1), l.port);
    await got.waitFor(1);
    await stranger.send(packet(666), l.port);
    await stranger.send(packet(667), l.port);
    await first.send(packet(2), l.port); // delivered after the stranger's, on loopback
    await got.waitFor(2);
    await settle(20);
    expect(got.copies.map((b) => b.readUInt16BE(2))).toEqual([1, 2]);
    expect(l.counters.strangerDrops).toBe(2);
    const out = packet(3);
    l.sendRtp(out, out.length);
    await first.waitFor(1);
    await settle(20);
    expect(stranger.received).toHaveLength(0);
  });

  it('does not latch on junk that is not version-2 RTP', async () => {
    const { l, got } = await nattedLeg();
    const junk = await peer();
    const real = await peer();
    await junk.send(Buffer.from('hello, is this the RTP port?'), l.port);
    await real.send(packet(1), l.port);
    await got.waitFor(1);
    expect(l.rtpLatch.targetPort).toBe(real.port);
    expect(l.counters.malformedDrops).toBe(1);
  });

  it('learns afresh after setRemote from a new offer/answer', async () => {
    const { l, got } = await nattedLeg();
    const before = await peer();
    const after = await peer();
    await before.send(packet(1), l.port);
    await got.waitFor(1);
    l.setRemote({ address: '10.0.0.2', port: 4002 }); // re-INVITE: the peer moved
    expect(l.rtpLatch.latched).toBe(false);
    await after.send(packet(2), l.port);
    await got.waitFor(2);
    expect(l.rtpLatch.targetPort).toBe(after.port);
    await before.send(packet(3), l.port);
    await settle(20);
    expect(got.count).toBe(2);
  });

  it('rejects an SDP address that is not an IP literal of the socket family', async () => {
    const l = await leg();
    expect(() => l.setRemote({ address: 'pbx.example.com', port: 4000 })).toThrow(expect.objectContaining({ code: 'BAD_MEDIA_ADDRESS', status: 488 }));
    expect(() => l.setRemote({ address: '2001:db8::1', port: 4000 })).toThrow(expect.objectContaining({ code: 'BAD_MEDIA_ADDRESS' }));
    expect(() => l.setRemote({ address: '127.0.0.1', port: 70000 })).toThrow(expect.objectContaining({ code: 'BAD_MEDIA_ADDRESS' }));
  });
});

describe('PlainRtpLeg RTCP', () => {
  it('receives RTCP on port+1, and sends RTCP next to the latched RTP source until RTCP itself is heard', async () => {
    const l = await leg();
    l.setRemote({ address: '10.0.0.1', port: 4000 });
    const far = await peerPool.allocatePair(); // far RTP port P and RTCP port P+1
    const rtcpAtFar: Buffer[] = [];
    far.rtcp.on('message', (m) => rtcpAtFar.push(m));
    const rtpGot = new Counter();
    l.onRtp(rtpGot.inc);
    far.rtp.send(packet(1), l.port, '127.0.0.1');
    await rtpGot.waitFor(1);
    const report = Buffer.concat([rr(0x5555, [{ ssrc: 1, jitter: 8 }]), sdes(0x5555, 'far@host')]);
    expect(l.sendRtcp(report, report.length)).toBe(true); // RTCP not heard yet: RTP source port + 1
    await waitUntil(() => rtcpAtFar.length === 1);

    const rtcpGot = new Counter();
    l.onRtcp(rtcpGot.inc);
    const rtcpFrom = await peer(); // the far end's RTCP actually comes from elsewhere (NAT)
    await rtcpFrom.send(report, l.rtcpPort);
    await rtcpGot.waitFor(1);
    expect(rtcpGot.copies[0]!.equals(report)).toBe(true);
    l.sendRtcp(report, report.length);
    await rtcpFrom.waitFor(1); // now RTCP goes where RTCP came from
    expect(l.stats.rtcpPacketsReceived).toBe(1);
    expect(l.stats.rtcpPacketsSent).toBe(2);
  });

  it('with rtcp-mux, demultiplexes RTCP on the RTP port (RFC 5761 §4) and sends RTCP there', async () => {
    const { l, far, rtpGot, rtcpGot } = await muxedLeg();
    const report = rr(0x5555, [{ ssrc: 1 }]);
    await far.send(packet(1), l.port);
    await far.send(report, l.port);
    await rtcpGot.waitFor(1);
    expect([rtpGot.count, rtcpGot.count]).toEqual([1, 1]);
    l.sendRtcp(report, report.length);
    await far.waitFor(1);
    expect(far.received[0]!.port).toBe(l.port);
  });
});

describe('PlainRtpLeg direction, errors and close', () => {
  it('follows the SDP direction: inactive neither sends nor accepts RTP, but RTCP still flows', async () => {
    const { l, far, rtpGot, rtcpGot } = await muxedLeg();
    l.setDirection('inactive');
    expect(l.onHold).toBe(true);
    const out = packet(1);
    expect(l.sendRtp(out, out.length)).toBe(false);
    await far.send(packet(2), l.port);
    const report = rr(0x5555);
    await far.send(report, l.port);
    await rtcpGot.waitFor(1);
    expect([rtpGot.count, l.counters.directionDrops]).toEqual([0, 1]);
    expect(l.sendRtcp(report, report.length)).toBe(true);

    l.setDirection('recvonly');
    expect(l.sendRtp(out, out.length)).toBe(false);
    await far.send(packet(3), l.port);
    await rtpGot.waitFor(1);
    l.setDirection('sendonly');
    expect(l.sendRtp(out, out.length)).toBe(true);
    l.setDirection('sendrecv');
    expect(l.onHold).toBe(false);
  });

  it('keeps receive and send statistics', async () => {
    const l = await leg({ clockRate: 8000 });
    const far = await peer();
    l.setRemote({ address: '127.0.0.1', port: far.port });
    const got = new Counter();
    l.onRtp(got.inc);
    for (const seq of [10, 11, 13, 14]) await far.send(packet(seq), l.port);
    await got.waitFor(4);
    const out = packet(1);
    l.sendRtp(out, out.length);
    const s = l.stats.snapshot();
    expect(s).toMatchObject({ packetsReceived: 4, bytesReceived: 4 * 172, packetsSent: 1, bytesSent: 172, ssrc: 0x5555, expected: 4, lost: 1 });
  });

  it('survives a throwing handler and sockets closed under it, counting both', async () => {
    const l = await leg();
    const far = await peer();
    l.setRemote({ address: '127.0.0.1', port: far.port });
    l.onRtp(() => {
      throw new Error('relay bug');
    });
    await far.send(packet(1), l.port);
    await waitUntil(() => l.counters.handlerErrors === 1);
    const out = packet(2);
    expect(l.sendRtp(out, out.length)).toBe(true);
    await far.waitFor(1);
    pool.close(); // shutdown closes the sockets while the relay still holds the leg
    expect(l.sendRtp(out, out.length)).toBe(false);
    expect(l.sendRtcp(out, out.length)).toBe(false);
    expect(l.counters.socketErrors).toBe(2);
    l.close();
  });

  it('closes idempotently, returning both ports to the pool', async () => {
    const l = await leg();
    expect(pool.inUse).toBe(2);
    l.close();
    l.close();
    expect([pool.inUse, l.closed]).toEqual([0, true]);
    const out = packet(1);
    expect(l.sendRtp(out, out.length)).toBe(false);
    expect(l.sendRtcp(out, out.length)).toBe(false);
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await settle(2);
  }
}
