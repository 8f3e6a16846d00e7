/**
 * Overload protection through the whole gateway: with `limits.overload.maxCallsInSetup: 1` and one trunk call
 * ringing a browser, the next INVITE from the trunk is answered 503 with Retry-After over real UDP, creates no
 * call, no media session and no ports, and no phone rings for it.
 */
import { it, expect, afterEach, describe } from 'vitest';
import { Cleanup, DIALING_USERS, gatewayFor, phoneFor, resourcesOf, trunkYaml } from './harness.ts';
import { UdpPeer } from '../signaling/helpers/sip-clients.ts';
import type { SipResponse } from '../../src/signaling/message.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const DID = '+15550001000';

function trunkInvite(peer: UdpPeer, gwPort: number, n: number): string {
  const sdp =
    'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n' +
    `m=audio ${40000 + 2 * n} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n`;
  return (
    `INVITE sip:${DID}@127.0.0.1:${gwPort} SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-overload-${n};rport\r\n` +
    `Max-Forwards: 70\r\nFrom: <sip:+15557770000@127.0.0.1>;tag=trunk-${n}\r\nTo: <sip:${DID}@127.0.0.1>\r\n` +
    `Call-ID: overload-${n}@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:trunk@127.0.0.1:${peer.port}>\r\n` +
    `Content-Type: application/sdp\r\nContent-Length: ${Buffer.byteLength(sdp)}\r\n\r\n${sdp}`
  );
}

describe('gateway overload protection', () => {
  it('answers 503 + Retry-After to a trunk INVITE beyond maxCallsInSetup, with no call, media or ring', async () => {
    const yaml = `${DIALING_USERS}trunks:
${trunkYaml({ port: 5060 }, { allowedSources: ['127.0.0.1'] })}routes:
  inbound:
    - { match: '\\+1555000100[0-9]', users: [alice] }
limits:
  overload: { maxCallsInSetup: 1, maxEventLoopDelay: 0, retryAfter: 3 }
`;
    const gw = cleanup.add(await gatewayFor(yaml), (g) => g.close());
    const alice = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    let rings = 0;
    alice.on('incoming', () => rings++);
    const trunk = cleanup.add(await UdpPeer.open(), (p) => p.close());

    trunk.send(trunkInvite(trunk, gw.sipPort, 1), gw.sipPort);
    const ringing = await alice.waitForIncoming(5000);
    await ringing.ring();
    const before = await resourcesOf(gw);
    expect(before).toMatchObject({ calls: 1, mediaSessions: 1 });
    expect(gw.stack.transactions.callsInSetup).toBe(1);

    trunk.send(trunkInvite(trunk, gw.sipPort, 2), gw.sipPort);
    let refused: SipResponse | undefined;
    for (let i = 0; i < 10 && refused === undefined; i++) {
      const message = await trunk.inbox.next(3000);
      if (message.type === 'response' && message.headers.get('call-id') === 'overload-2@127.0.0.1') refused = message;
    }
    expect(refused).toMatchObject({ status: 503 });
    expect(refused!.headers.get('retry-after')).toBe('3');
    const after = await resourcesOf(gw);
    expect({ calls: after.calls, mediaSessions: after.mediaSessions, ports: after.ports }).toEqual({
      calls: before.calls,
      mediaSessions: before.mediaSessions,
      ports: before.ports,
    });
    expect(rings).toBe(1);
    expect(gw.stack.overload.counters.shed).toBe(1);
  });
});
