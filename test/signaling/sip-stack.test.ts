import { describe, it, expect, afterEach } from 'vitest';
import tls from 'node:tls';
import { once } from 'node:events';
import WebSocket from 'ws';
import { SipStack, type SipStackOptions, type SipTransactionUser } from '../../src/signaling/sip-stack.ts';
import { createResponseTo, type SipMessage, type SipRequest, type SipResponse } from '../../src/signaling/message.ts';
import { parseSipMessage } from '../../src/signaling/parser.ts';
import { StreamFramer } from '../../src/signaling/framing.ts';
import type { ServerTransaction } from '../../src/signaling/transaction/transaction-layer.ts';
import { TcpPeer, UdpPeer, options } from './helpers/sip-clients.ts';
import { testCert } from './helpers/tls.ts';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function stack(extra: Partial<SipStackOptions> = {}) {
  const s = new SipStack({
    listeners: [
      { protocol: 'UDP', host: '127.0.0.1', port: 0 },
      { protocol: 'TCP', host: '127.0.0.1', port: 0 },
      { protocol: 'TLS', host: '127.0.0.1', port: 0, tls: testCert() },
      { protocol: 'WSS', host: '127.0.0.1', port: 0, tls: testCert() },
    ],
    http: { host: '127.0.0.1', port: 0, wsPath: '/sip' },
    userAgent: 'gw-test/1.0',
    ...extra,
  });
  await s.start();
  cleanup.push(() => s.close());
  return s;
}

async function udp() {
  const p = await UdpPeer.open();
  cleanup.push(() => p.close());
  return p;
}

async function tcp(port: number) {
  const p = await TcpPeer.open(port);
  cleanup.push(() => p.close());
  return p;
}

function invite(branch: string, callId: string, extra = ''): string {
  return (
    'INVITE sip:bob@127.0.0.1 SIP/2.0\r\n' +
    `Via: SIP/2.0/UDP 127.0.0.1:5999;branch=${branch};rport\r\n` +
    'Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:bob@127.0.0.1>\r\n' +
    `Call-ID: ${callId}\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1:5999>\r\n${extra}Content-Length: 0\r\n\r\n`
  );
}

function expectOptions200(message: SipMessage): void {
  expect(message).toMatchObject({ type: 'response', status: 200 });
  const h = message.headers;
  expect(h.get('allow')).toBe('OPTIONS');
  expect(h.get('accept')).toBe('application/sdp');
  expect(h.get('accept-encoding')).toBe('identity');
  expect(h.get('accept-language')).toBe('en');
  expect(h.has('supported')).toBe(true);
  expect(h.get('server')).toBe('gw-test/1.0');
  expect(h.get('to')).toMatch(/;tag=[0-9a-f]+$/);
}

describe('SipStack answers OPTIONS on every transport', () => {
  it('UDP, TCP, TLS, WS and WSS', async () => {
    const s = await stack();
    const u = await udp();
    u.send(options(), s.port('UDP'));
    expectOptions200(await u.inbox.next());

    const t = await tcp(s.port('TCP'));
    t.send(options({ transport: 'TCP' }));
    expectOptions200(await t.inbox.next());

    const secure = tls.connect({ host: '127.0.0.1', port: s.port('TLS'), ca: testCert().cert });
    cleanup.push(() => secure.destroy());
    await once(secure, 'secureConnect');
    const got: SipMessage[] = [];
    const framer = new StreamFramer({ message: (d) => got.push(parseSipMessage(d)), ping: () => {}, error: () => {} });
    secure.on('data', (d: Buffer) => framer.push(d));
    secure.write(options({ transport: 'TLS' }));
    await expect.poll(() => got.length).toBe(1);
    expectOptions200(got[0]!);

    for (const [protocol, url, ca] of [
      ['WS', `ws://127.0.0.1:${s.port('WS')}/sip`, undefined],
      ['WSS', `wss://127.0.0.1:${s.port('WSS')}/sip`, testCert().cert],
    ] as const) {
      const ws = new WebSocket(url, 'sip', { ca });
      cleanup.push(() => ws.terminate());
      await once(ws, 'open');
      const reply = once(ws, 'message');
      ws.send(options({ transport: protocol, host: 'abc123.invalid', port: 9 }));
      expectOptions200(parseSipMessage((await reply)[0] as Buffer));
    }
    expect(s.counters.optionsAnswered).toBe(5);
    expect(s.counters.transport.messagesIn).toMatchObject({ UDP: 1, TCP: 1, TLS: 1, WS: 1, WSS: 1 });
    expect(s.counters.transport.messagesOut).toMatchObject({ UDP: 1, TCP: 1, TLS: 1, WS: 1, WSS: 1 });
  });

  it('refuses a WebSocket handshake without the sip subprotocol', async () => {
    const s = await stack();
    const ws = new WebSocket(`ws://127.0.0.1:${s.port('WS')}/sip`);
    ws.on('error', () => {});
    cleanup.push(() => ws.terminate());
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
    expect(res.statusCode).toBe(400);
  });

  it('answers an OPTIONS with Max-Forwards 0 (a UAS is the final recipient, §11 / §16.3)', async () => {
    const s = await stack();
    const u = await udp();
    u.send(options().replace('Max-Forwards: 70', 'Max-Forwards: 0'), s.port('UDP'));
    expect(await u.inbox.next()).toMatchObject({ status: 200 });
  });
});

describe('§8.2 checks', () => {
  it('501 for an unknown method, 405 with Allow for a known one nobody handles', async () => {
    const s = await stack();
    const u = await udp();
    u.send(options().replace(/OPTIONS/g, 'FOO'), s.port('UDP'));
    const r501 = await u.inbox.next();
    expect(r501).toMatchObject({ status: 501 });
    expect(r501.headers.get('to')).toMatch(/;tag=/);
    u.send(invite('z9hG4bK-405', 'c405@x'), s.port('UDP'));
    const r405 = await u.inbox.next();
    expect(r405).toMatchObject({ status: 405 });
    expect(r405.headers.get('allow')).toBe('OPTIONS');
    expect(s.counters.rejected).toMatchObject({ 405: 1, 501: 1 });
  });

  it('420 with Unsupported for a Require we do not support, 416 for a foreign URI scheme, 481 in a dialog we do not know', async () => {
    const s = await stack({ supported: ['timer'] });
    const u = await udp();
    u.send(options({ extra: 'Require: timer, 100rel, foo\r\n' }), s.port('UDP'));
    const r420 = await u.inbox.next();
    expect(r420).toMatchObject({ status: 420 });
    expect(r420.headers.get('unsupported')).toBe('100rel, foo');
    u.send(options({ uri: 'im:gateway@127.0.0.1' }), s.port('UDP'));
    expect(await u.inbox.next()).toMatchObject({ status: 416 });
    u.send(options({ toTag: 'nodialog' }), s.port('UDP'));
    expect(await u.inbox.next()).toMatchObject({ status: 481 });
    u.send(options({ extra: 'Require: timer\r\n' }), s.port('UDP'));
    const ok = await u.inbox.next();
    expect(ok).toMatchObject({ status: 200 });
    expect(ok.headers.get('supported')).toBe('timer');
  });

  it('hands claimed methods to the TU with the server transaction and channel, and lists them in Allow', async () => {
    const s = await stack();
    const seen: Array<{ request: SipRequest; tx: ServerTransaction }> = [];
    const tu: SipTransactionUser = {
      methods: ['INVITE', 'BYE', 'MESSAGE'],
      onRequest: (request, tx, channel) => {
        expect(channel).toBe(tx.channel);
        seen.push({ request, tx });
        tx.respond(createResponseTo(request, 486, undefined, 'busy'));
      },
    };
    s.setTransactionUser(tu);
    const u = await udp();
    u.send(invite('z9hG4bK-tu1', 'tu1@x'), s.port('UDP'));
    // The TU answered within its callback, so no 100 Trying precedes the 486 (§17.2.1's 200 ms rule).
    expect(await u.inbox.next()).toMatchObject({ status: 486 });
    expect(seen).toHaveLength(1);
    u.send(options(), s.port('UDP'));
    const opt = await u.inbox.next();
    expect(opt.headers.get('allow')).toBe('INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE');
  });

  it('answers a CANCEL itself without a TU handler: 481 for nothing, else 200 and 487 to the INVITE', async () => {
    const s = await stack();
    s.setTransactionUser({ methods: ['INVITE'], onRequest: () => {} }); // never answers
    const u = await udp();
    u.send(invite('z9hG4bK-c1', 'c1@x'), s.port('UDP'));
    expect(await u.inbox.next()).toMatchObject({ status: 100 });
    const cancel = invite('z9hG4bK-c1', 'c1@x').replace('INVITE sip', 'CANCEL sip').replace('1 INVITE', '1 CANCEL');
    u.send(cancel, s.port('UDP'));
    const replies = [await u.inbox.next(), await u.inbox.next()] as SipResponse[];
    expect(replies.map((r) => `${r.status} ${r.headers.get('cseq')}`).sort()).toEqual(['200 1 CANCEL', '487 1 INVITE']);
    u.send(cancel.replace('z9hG4bK-c1', 'z9hG4bK-none'), s.port('UDP'));
    expect(await u.inbox.next()).toMatchObject({ status: 481 });
  });
});

describe('retransmissions and strays', () => {
  it('a retransmitted INVITE creates one server transaction and gets the last response again', async () => {
    const s = await stack();
    let calls = 0;
    s.setTransactionUser({ methods: ['INVITE'], onRequest: () => calls++ });
    const u = await udp();
    const msg = invite('z9hG4bK-rtx', 'rtx@x');
    u.send(msg, s.port('UDP'));
    expect(await u.inbox.next()).toMatchObject({ status: 100 });
    u.send(msg, s.port('UDP'));
    expect(await u.inbox.next()).toMatchObject({ status: 100 });
    expect(calls).toBe(1);
    expect(s.counters.serverTransactions).toBe(1);
    expect(s.transactions.counts.inviteServer).toBe(1);
  });

  it('drops a response to nothing and keeps serving', async () => {
    const s = await stack();
    const strays: SipResponse[] = [];
    s.setTransactionUser({ methods: [], onRequest: () => {}, onStrayResponse: (r) => strays.push(r) });
    const u = await udp();
    u.send('SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-nothing\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: stray@x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n', s.port('UDP'));
    expect(await u.inbox.quiet(200)).toBe(true);
    expect(strays).toHaveLength(1);
    expect(s.transactions.stats.strayResponses).toBe(1);
    u.send(options(), s.port('UDP'));
    expect(await u.inbox.next()).toMatchObject({ status: 200 });
  });
});

describe.each(['UDP', 'TCP'] as const)('malformed input over %s', (protocol) => {
  async function peer(s: SipStack) {
    if (protocol === 'UDP') {
      const u = await udp();
      return { inbox: u.inbox, send: (m: string | Buffer) => u.send(m, s.port('UDP')), closed: () => false };
    }
    const t = await tcp(s.port('TCP'));
    return { inbox: t.inbox, send: (m: string | Buffer) => t.socket.write(m), closed: () => t.closed };
  }

  it('400 naming the fault, 505 for SIP/3.0, and still serving', async () => {
    const s = await stack();
    const p = await peer(s);
    p.send(options({ transport: protocol, extra: 'Content-Type: nonsense\r\n' }));
    const r400 = (await p.inbox.next()) as SipResponse;
    expect(r400.status).toBe(400);
    expect(r400.reason).toMatch(/Content-Type/);
    p.send(options({ transport: protocol }).replace(' SIP/2.0\r\n', ' SIP/3.0\r\n'));
    expect(await p.inbox.next()).toMatchObject({ status: 505 });
    p.send(options({ transport: protocol }));
    expect(await p.inbox.next()).toMatchObject({ status: 200 });
    expect(s.counters.transport.badInputResponses).toBe(2);
    expect(s.counters.serverTransactions).toBe(1);
  });

  it('an unparsable blob gets no reply and is counted', async () => {
    const s = await stack();
    const p = await peer(s);
    // Framable on a stream (it has a Content-Length) but not SIP.
    p.send('GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
    expect(await p.inbox.quiet(200)).toBe(true);
    expect(s.counters.transport.dropped).toBe(1);
    p.send(options({ transport: protocol }));
    expect(await p.inbox.next()).toMatchObject({ status: 200 });
  });

  it(protocol === 'UDP' ? 'an over-size request gets 513' : 'an over-size request closes the connection unanswered', async () => {
    const s = await stack({ limits: { maxMessageSize: 4096 } });
    const p = await peer(s);
    p.send(options({ transport: protocol, extra: `X-Big: ${'b'.repeat(5000)}\r\n` }));
    if (protocol === 'UDP') {
      expect(await p.inbox.next()).toMatchObject({ status: 513 });
    } else {
      await expect.poll(() => p.closed()).toBe(true);
      expect(p.inbox.messages).toHaveLength(0);
    }
  });
});

describe('close()', () => {
  it('is idempotent and leaves no transaction or timer behind', async () => {
    const s = await stack();
    s.setTransactionUser({ methods: ['INVITE'], onRequest: () => {} });
    const u = await udp();
    u.send(invite('z9hG4bK-close', 'close@x'), s.port('UDP'));
    await u.inbox.next();
    expect(s.transactions.counts.inviteServer).toBe(1);
    await Promise.all([s.close(), s.close()]);
    expect(s.transactions.counts).toMatchObject({ inviteServer: 0, timers: 0 });
    await expect(s.channelFor({ protocol: 'UDP', host: '127.0.0.1', port: 5060 })).rejects.toMatchObject({ code: 'SIP_TRANSPORT_CLOSED' });
  });
});

describe('robustness', () => {
  it('survives 3,000 mutated datagrams and mutated TCP streams, then still answers', async () => {
    const s = await stack();
    const u = await udp();
    let seed = 0x2545f491;
    const rand = (n: number): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const base = Buffer.from(invite('z9hG4bK-fuzz', 'fuzz@x', 'Content-Type: application/sdp\r\n').replace('Content-Length: 0\r\n\r\n', 'Content-Length: 10\r\n\r\nv=0\r\no=- 1\r\n'));
    const mutate = (): Buffer => {
      const b = Buffer.from(base);
      const edits = 1 + rand(6);
      for (let e = 0; e < edits; e++) {
        const at = rand(b.length);
        switch (rand(4)) {
          case 0: b[at] = rand(256); break;
          case 1: b[at] = [0x0d, 0x0a, 0x3a, 0x3b, 0x20, 0x22, 0x3c, 0x00][rand(8)]!; break;
          case 2: b.copyWithin(at, rand(b.length)); break;
          default: return b.subarray(0, at);
        }
      }
      return b;
    };
    for (let i = 0; i < 3000; i++) {
      u.send(mutate(), s.port('UDP'));
      if (i % 200 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    for (let c = 0; c < 20; c++) {
      const t = await tcp(s.port('TCP'));
      for (let i = 0; i < 20; i++) t.socket.write(mutate());
      t.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    const fresh = await udp();
    fresh.send(options(), s.port('UDP'));
    expect(await fresh.inbox.next()).toMatchObject({ status: 200 });
    expect(s.counters.transport.handlerErrors).toBe(0);
    expect(s.counters.transport.parseErrors).toBeGreaterThan(0);
  });
});
