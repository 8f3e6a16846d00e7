/**
 * An INVITE client transaction whose call ended (`release`) still owes every 2xx an ACK (RFC 3261 §13.2.2.4), sent
 * where the dialog's requests go (§12.2.1.1: Record-Route, else the 2xx's Contact) — not where the INVITE went —
 * and a fork answering after the call ended gets an ACK and a BYE. Real UDP on loopback: a SipStack as the UAC, raw
 * sockets as the forking proxy and the UASs behind it.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { SipStack } from '../../../src/signaling/sip-stack.ts';
import { createRequest, createResponseTo, type SipRequest, type SipResponse } from '../../../src/signaling/message.ts';
import { serializeSipMessage } from '../../../src/signaling/serializer.ts';
import { lateForkRequests, targetOf } from '../../../src/signaling/transaction/late-fork.ts';
import type { InviteClientTransaction } from '../../../src/signaling/transaction/invite-client-transaction.ts';
import { UdpPeer } from '../helpers/sip-clients.ts';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function peer(): Promise<UdpPeer> {
  const p = await UdpPeer.open('127.0.0.1');
  cleanup.push(() => p.close());
  return p;
}

function invite(uri: string, callId: string): SipRequest {
  return createRequest('INVITE', uri, [
    ['Max-Forwards', '70'],
    ['From', '<sip:alice@gw.example>;tag=uac1'],
    ['To', '<sip:bob@example.com>'],
    ['Call-ID', callId],
    ['CSeq', '7 INVITE'],
    ['Contact', '<sip:gw@127.0.0.1>'],
    ['Proxy-Authorization', 'Digest username="a", realm="r", nonce="n", uri="sip:bob@example.com", response="00"'],
  ]);
}

function ok(request: SipRequest, tag: string, contactPort: number, recordRoute?: string): SipResponse {
  const response = createResponseTo(request, 200, undefined, tag);
  if (recordRoute !== undefined) response.headers.append('Record-Route', recordRoute);
  response.headers.append('Contact', `<sip:bob@127.0.0.1:${contactPort}>`);
  return response;
}

async function uac() {
  const stack = new SipStack({ listeners: [{ protocol: 'UDP', host: '127.0.0.1', port: 0 }], http: false, userAgent: 'late-fork-test' });
  await stack.start();
  cleanup.push(() => stack.close());
  return stack;
}

describe('a released INVITE transaction answers 2xx itself (real UDP)', () => {
  it('re-sends the TU\'s ACK where the TU sent it (the 2xx Contact), and ACKs and BYEs a fork that answers after the call ended', async () => {
    const stack = await uac();
    const port = stack.port('UDP');
    const proxy = await peer(); // the INVITE's next hop (forks it)
    const uas1 = await peer(); // the fork that answered first: Contact of its 2xx, no Record-Route
    const uas2 = await peer(); // a fork answering after the call ended

    const callId = `late-fork-${Date.now()}`;
    const seen: number[] = [];
    const request = invite(`sip:bob@127.0.0.1:${proxy.port}`, callId);
    const channel = await stack.channelFor({ protocol: 'UDP', host: '127.0.0.1', port: proxy.port });
    const tx = stack.transactions.sendRequest(request, channel, {
      onResponse: (response) => {
        seen.push(response.status);
        if (seen.length > 1) return;
        // The TU ACKs inside the dialog (§13.2.2.4): to the remote target, the 2xx's Contact.
        const ack = createRequest('ACK', `sip:bob@127.0.0.1:${uas1.port}`, [
          ['Max-Forwards', '70'],
          ['From', request.headers.get('from')!],
          ['To', response.headers.get('to')!],
          ['Call-ID', callId],
          ['CSeq', '7 ACK'],
        ]);
        void stack.channelFor({ protocol: 'UDP', host: '127.0.0.1', port: uas1.port }).then((c) => stack.transactions.sendAck(ack, c));
      },
      onTimeout: () => {},
      onTransportError: () => {},
    }) as InviteClientTransaction;

    const sent = (await proxy.inbox.next()) as SipRequest;
    expect(sent.method).toBe('INVITE');
    const first = serializeSipMessage(ok(sent, 'fork1', uas1.port));
    proxy.send(first, port);
    const ack1 = (await uas1.inbox.next()) as SipRequest;
    expect(ack1.method).toBe('ACK');
    expect(tx.state).toBe('Accepted');

    stack.transactions.release(callId, (target) => stack.channelFor(target));

    // The 2xx retransmitted: the same ACK again, to the Contact — not to the proxy the INVITE went to.
    proxy.send(first, port);
    const again = (await uas1.inbox.next()) as SipRequest;
    expect(serializeSipMessage(again).toString()).toBe(serializeSipMessage(ack1).toString());

    // Another fork's 2xx after the call ended: ACK and BYE to its Contact, built from that 2xx alone.
    const second = serializeSipMessage(ok(sent, 'fork2', uas2.port));
    proxy.send(second, port);
    const lateAck = (await uas2.inbox.next()) as SipRequest;
    const bye = (await uas2.inbox.next()) as SipRequest;
    expect(lateAck.method).toBe('ACK');
    expect(lateAck.uri).toBe(`sip:bob@127.0.0.1:${uas2.port}`);
    expect(lateAck.headers.get('cseq')).toBe('7 ACK');
    expect(lateAck.headers.get('to')).toMatch(/;tag=fork2$/);
    expect(lateAck.headers.get('from')).toBe('<sip:alice@gw.example>;tag=uac1');
    expect(lateAck.headers.get('proxy-authorization')).toBe(request.headers.get('proxy-authorization'));
    expect(lateAck.headers.get('via')).toMatch(/^SIP\/2\.0\/UDP 127\.0\.0\.1:\d+;branch=z9hG4bK/);
    expect(bye.method).toBe('BYE');
    expect(bye.uri).toBe(`sip:bob@127.0.0.1:${uas2.port}`);
    expect(bye.headers.get('cseq')).toBe('8 BYE');
    expect(bye.headers.get('to')).toMatch(/;tag=fork2$/);
    expect(bye.headers.get('call-id')).toBe(callId);
    uas2.send(serializeSipMessage(createResponseTo(bye, 200)), port);

    // Its retransmission: the ACK again, no second BYE.
    proxy.send(second, port);
    const lateAgain = (await uas2.inbox.next()) as SipRequest;
    expect(lateAgain.method).toBe('ACK');
    expect(serializeSipMessage(lateAgain).toString()).toBe(serializeSipMessage(lateAck).toString());
    expect(await uas2.inbox.quiet(200)).toBe(true);

    // The TU heard nothing after release; the proxy got nothing but the INVITE.
    expect(seen).toEqual([200]);
    expect(proxy.inbox.messages).toHaveLength(1);
  });

  it('sends a late fork\'s ACK and BYE to its first Record-Route (loose routing), with Route', async () => {
    const stack = await uac();
    const port = stack.port('UDP');
    const proxy = await peer();
    const recordRouter = await peer();
    const uas = await peer();
    const callId = `late-fork-rr-${Date.now()}`;
    const request = invite(`sip:bob@127.0.0.1:${proxy.port}`, callId);
    const channel = await stack.channelFor({ protocol: 'UDP', host: '127.0.0.1', port: proxy.port });
    stack.transactions.sendRequest(request, channel, { onResponse: () => {}, onTimeout: () => {}, onTransportError: () => {} });
    const sent = (await proxy.inbox.next()) as SipRequest;
    // The call ends while the first 2xx is with the TU (which never ACKs here); release before a fork answers.
    proxy.send(serializeSipMessage(ok(sent, 'fork1', proxy.port)), port);
    await new Promise((r) => setTimeout(r, 50));
    stack.transactions.release(callId, (target) => stack.channelFor(target));

    proxy.send(serializeSipMessage(ok(sent, 'fork2', uas.port, `<sip:127.0.0.1:${recordRouter.port};lr>`)), port);
    const ack = (await recordRouter.inbox.next()) as SipRequest;
    const bye = (await recordRouter.inbox.next()) as SipRequest;
    for (const m of [ack, bye]) {
      expect(m.uri).toBe(`sip:bob@127.0.0.1:${uas.port}`);
      expect(m.headers.get('route')).toBe(`<sip:127.0.0.1:${recordRouter.port};lr>`);
    }
    expect([ack.method, bye.method]).toEqual(['ACK', 'BYE']);
    expect(await uas.inbox.quiet(150)).toBe(true);
  });
});

describe('a released INVITE transaction whose late fork\'s next hop cannot be reached', () => {
  it('ACKs and BYEs over the INVITE\'s channel, and ACKs the retransmitted 2xx again there', async () => {
    const stack = await uac();
    const port = stack.port('UDP');
    const proxy = await peer();
    const callId = `late-fork-noroute-${Date.now()}`;
    const request = invite(`sip:bob@127.0.0.1:${proxy.port}`, callId);
    const channel = await stack.channelFor({ protocol: 'UDP', host: '127.0.0.1', port: proxy.port });
    stack.transactions.sendRequest(request, channel, { onResponse: () => {}, onTimeout: () => {}, onTransportError: () => {} });
    const sent = (await proxy.inbox.next()) as SipRequest;
    proxy.send(serializeSipMessage(ok(sent, 'fork1', proxy.port)), port);
    await new Promise((r) => setTimeout(r, 50));
    const asked: unknown[] = [];
    stack.transactions.release(callId, (target) => {
      asked.push(target);
      return Promise.reject(new Error('no route'));
    });

    // The fork's Contact is a port nobody resolves to: the INVITE's next hop still gets the ACK and the BYE.
    const late = serializeSipMessage(ok(sent, 'fork2', 9));
    proxy.send(late, port);
    const ack = (await proxy.inbox.next()) as SipRequest;
    const bye = (await proxy.inbox.next()) as SipRequest;
    expect([ack.method, bye.method]).toEqual(['ACK', 'BYE']);
    expect(asked).toHaveLength(1);
    proxy.send(serializeSipMessage(createResponseTo(bye, 200)), port);
    proxy.send(late, port);
    const again = (await proxy.inbox.next()) as SipRequest;
    expect(again.method).toBe('ACK');
    expect(serializeSipMessage(again).toString()).toBe(serializeSipMessage(ack).toString());
  });
});

describe('lateForkRequests / targetOf', () => {
  const inv = invite('sip:bob@proxy.example;transport=tcp', 'c1');
  inv.headers.prepend('Via', 'SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK-x');

  it('strict router first: its URI becomes the Request-URI and the remote target the last Route (§12.2.1.1)', () => {
    const response = createResponseTo(inv, 200, undefined, 't1');
    response.headers.append('Record-Route', '<sip:edge.example;lr>, <sip:strict.example;method=INVITE>');
    response.headers.append('Contact', '<sip:bob@10.0.0.9:5070>');
    const { ack, bye, nextHop } = lateForkRequests(inv, response)!;
    expect(ack.uri).toBe('sip:strict.example');
    expect(ack.headers.getAll('route')).toEqual(['<sip:edge.example;lr>', '<sip:bob@10.0.0.9:5070>']);
    expect(bye.uri).toBe('sip:strict.example');
    expect(bye.headers.get('cseq')).toBe('8 BYE');
    expect(bye.headers.get('proxy-authorization')).toBeUndefined();
    // §8.1.2: after strict routing the request goes to its Request-URI, not to the first Route left in it.
    expect(nextHop).toBe('sip:strict.example');
    expect(targetOf(nextHop, 'UDP')).toEqual({ protocol: 'UDP', host: 'strict.example' });
  });

  it('no Contact: the Request-URI; transport, sips and maddr pick the next hop', () => {
    const response = createResponseTo(inv, 200, undefined, 't2');
    const { ack, nextHop } = lateForkRequests(inv, response)!;
    expect(ack.uri).toBe('sip:bob@proxy.example;transport=tcp');
    expect(targetOf(nextHop, 'UDP')).toEqual({ protocol: 'TCP', host: 'proxy.example' });
    expect(targetOf('sips:bob@[::1]:5071', 'TCP')).toEqual({ protocol: 'TLS', host: '[::1]', port: 5071 });
    expect(targetOf('sip:bob@example.com;maddr=127.0.0.2', 'UDP')).toEqual({ protocol: 'UDP', host: '127.0.0.2' });
    expect(targetOf('tel:+15551234', 'UDP')).toBeUndefined();
  });

  it('loose routing: the Request-URI is the Contact without URI headers or method (§19.1.1 table)', () => {
    const response = createResponseTo(inv, 200, undefined, 't3');
    response.headers.append('Record-Route', '<sip:edge.example;lr>');
    response.headers.append('Contact', '<sip:bob@10.0.0.9:5070;method=INVITE;transport=tcp?Subject=hi>');
    const { ack, bye, nextHop } = lateForkRequests(inv, response)!;
    expect(ack.uri).toBe('sip:bob@10.0.0.9:5070;transport=tcp');
    expect(bye.uri).toBe('sip:bob@10.0.0.9:5070;transport=tcp');
    expect(nextHop).toBe('sip:edge.example;lr');
  });

  it('a 2xx without a To tag gets nothing', () => {
    const response = createResponseTo(inv, 200);
    expect(lateForkRequests(inv, response)).toBeUndefined();
  });
});
