import { afterEach, describe, expect, it, vi } from 'vitest';
import dgram from 'node:dgram';
import { decodeBencode, encodeBencode } from '../../src/ng/bencode.ts';
import { NgClient, NgClientError, formatNgAddress, parseNgAddress } from '../../src/ng/ng-client.ts';
import { HOST, open, start } from './helpers/ng-harness.ts';

/** A bare UDP peer standing where a media node would: records what arrives, answers only when told to. */
async function rawPeer() {
  const socket = dgram.createSocket('udp4');
  open.push({ close: () => socket.close() });
  await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
  const received: Array<{ at: number; cookie: string; body: Buffer; port: number }> = [];
  const waiters: Array<() => void> = [];
  socket.on('message', (msg, rinfo) => {
    const space = msg.indexOf(0x20);
    received.push({ at: Date.now(), cookie: msg.subarray(0, space).toString(), body: msg.subarray(space + 1), port: rinfo.port });
    for (const w of waiters.splice(0)) w();
  });
  /** Resolves once `n` datagrams have arrived in total (real I/O: works under fake timers too). */
  const arrived = (n: number) =>
    new Promise<void>((resolve) => {
      const check = () => (received.length >= n ? resolve() : waiters.push(check));
      check();
    });
  const reply = (to: { port: number }, data: Buffer | string) => socket.send(data, to.port, HOST);
  return { port: socket.address().port, received, arrived, reply };
}

async function client(port: number, options: Partial<Parameters<typeof NgClient.open>[0]> = {}) {
  const c = await NgClient.open({ address: `udp:${HOST}:${port}`, ...options });
  open.push(c);
  return c;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('ng addresses (Kamailio rtpengine_sock syntax)', () => {
  it('reads udp:IPv4:PORT, udp6:[IPv6]:PORT and udp:[IPv6]:PORT', () => {
    expect(parseNgAddress('udp:127.0.0.1:2223')).toEqual({ transport: 'udp', host: '127.0.0.1', port: 2223 });
    expect(parseNgAddress('udp6:[::1]:2223')).toEqual({ transport: 'udp', host: '::1', port: 2223 });
    expect(parseNgAddress('udp:[::1]:22222')).toEqual({ transport: 'udp', host: '::1', port: 22222 });
    expect(formatNgAddress(parseNgAddress('udp:[::1]:2223'))).toBe('udp6:[::1]:2223');
  });

  it.each(['tcp:127.0.0.1:2223', 'udp:localhost:2223', 'udp:127.0.0.1', 'udp:127.0.0.1:0', 'udp:127.0.0.1:70000', 'udp6:127.0.0.1:2223', 'udp:[127.0.0.1]:2223', '127.0.0.1:2223'])(
    'refuses %s with NG_ADDRESS',
    (value) => {
      expect(() => parseNgAddress(value)).toThrow(expect.objectContaining({ code: 'NG_ADDRESS' }));
    },
  );
});

describe('NgClient against the ng server', () => {
  it('binds loopback for a loopback node and gets pong for ping', async () => {
    const { addresses } = await start();
    const c = await client(addresses.udp[0]!.port);
    expect(c.local.address).toBe('127.0.0.1');
    const rtt = await c.ping();
    expect(rtt).toBeGreaterThanOrEqual(0);
    expect(rtt).toBeLessThan(1000);
    expect(c.pending).toBe(0);
  });

  it('resolves with the reply dictionary of an ok command', async () => {
    const { addresses, media } = await start();
    const c = await client(addresses.udp[0]!.port);
    const sdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';
    const reply = await c.request({ command: 'offer', 'call-id': 'c1', 'from-tag': 'a', sdp, 'transport-protocol': 'RTP/AVP' });
    expect(reply['result']).toBe('ok');
    expect(reply['sdp']).toMatch(/^m=audio \d+ RTP\/AVP 0/m);
    expect(media.calls.map((call) => call[0])).toEqual(['offer']);
    expect((await c.request({ command: 'list' }))['calls']).toEqual(['c1']);
  });

  it('rejects result: error with NG_REMOTE_ERROR carrying the error-reason and the reply', async () => {
    const { addresses } = await start();
    const c = await client(addresses.udp[0]!.port);
    const error = await c.request({ command: 'no such command' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NgClientError);
    expect(error).toMatchObject({ code: 'NG_REMOTE_ERROR', message: 'Unrecognized command' });
    expect((error as NgClientError).reply?.['result']).toBe('error');
  });

  it('matches concurrent replies by cookie', async () => {
    const { addresses } = await start();
    const c = await client(addresses.udp[0]!.port);
    const replies = await Promise.all([c.request({ command: 'ping' }), c.request({ command: 'list' }), c.request({ command: 'statistics' })]);
    expect(replies[0]!['result']).toBe('pong');
    expect(replies[1]!['calls']).toEqual([]);
    expect(replies[2]!['statistics']).toBeDefined();
  });

  it('a retransmission of a command still running is answered once, from the same run (same cookie)', async () => {
    const { addresses, media } = await start();
    let open_: () => void = () => {};
    media.gate = new Promise<void>((resolve) => (open_ = resolve));
    const c = await client(addresses.udp[0]!.port, { retransmitMs: 40, timeoutMs: 2000 });
    const sdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';
    const reply = c.request({ command: 'offer', 'call-id': 'slow', 'from-tag': 'a', sdp });
    await new Promise((r) => setTimeout(r, 200)); // several retransmissions while the offer waits
    open_();
    expect((await reply)['result']).toBe('ok');
    expect(media.calls.filter((call) => call[0] === 'offer')).toHaveLength(1);
  });
});

describe('NgClient retransmission and deadline (RFC-less, as Kamailio send_rtpp_command, with back-off)', () => {
  it('retransmits the same datagram, cookie and all, after 500, 1000, 2000, 2000 ms', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const peer = await rawPeer();
    const c = await client(peer.port, { timeoutMs: 10_000 });
    const reply = c.request({ command: 'ping' });
    await peer.arrived(1);
    const t0 = peer.received[0]!.at;
    for (const [n, advance] of [[2, 500], [3, 1000], [4, 2000], [5, 2000]] as const) {
      await vi.advanceTimersByTimeAsync(advance - 1);
      expect(peer.received).toHaveLength(n - 1);
      await vi.advanceTimersByTimeAsync(1);
      await peer.arrived(n);
    }
    expect(peer.received.map((d) => d.at - t0)).toEqual([0, 500, 1500, 3500, 5500]);
    expect(new Set(peer.received.map((d) => d.cookie)).size).toBe(1);
    expect(new Set(peer.received.map((d) => d.body.toString())).size).toBe(1);
    expect(decodeBencode(peer.received[0]!.body)).toEqual({ command: 'ping' });
    peer.reply(peer.received[4]!, `${peer.received[0]!.cookie} ${encodeBencode({ result: 'pong' }).toString()}`);
    expect((await reply)['result']).toBe('pong');
  });

  it('gives up at the deadline with NG_TIMEOUT and then ignores the late reply', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const peer = await rawPeer();
    const c = await client(peer.port, { timeoutMs: 1200, retransmitMs: 500 });
    const reply = c.request({ command: 'list' });
    const failed = reply.catch((e: unknown) => e);
    await peer.arrived(1);
    await vi.advanceTimersByTimeAsync(1199);
    expect(c.pending).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(await failed).toMatchObject({ code: 'NG_TIMEOUT' });
    expect(peer.received).toHaveLength(2); // at 0 and 500; the next gap (1000) would pass the deadline
    expect(c.pending).toBe(0);
    vi.useRealTimers();
    peer.reply(peer.received[0]!, `${peer.received[0]!.cookie} d6:result2:oke`);
    await new Promise((r) => setTimeout(r, 50));
    expect(c.strayReplies).toBe(1);
  });

  it('a per-request timeout overrides the client deadline', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const peer = await rawPeer();
    const c = await client(peer.port, { timeoutMs: 60_000 });
    const failed = c.ping(300).catch((e: unknown) => e);
    await peer.arrived(1);
    await vi.advanceTimersByTimeAsync(300);
    expect(await failed).toMatchObject({ code: 'NG_TIMEOUT' });
  });
});

describe('NgClient send window', () => {
  it('keeps at most maxInFlight requests on the wire; the next one goes out when one is answered', async () => {
    const peer = await rawPeer();
    const c = await client(peer.port, { maxInFlight: 2 });
    const replies = [1, 2, 3, 4].map(() => c.request({ command: 'ping' }));
    await peer.arrived(2);
    await new Promise((r) => setTimeout(r, 50));
    expect(peer.received).toHaveLength(2);
    expect(c.pending).toBe(4);
    const answer = (d: { cookie: string; port: number }) => peer.reply(d, `${d.cookie} d6:result4:ponge`);
    answer(peer.received[0]!);
    await peer.arrived(3);
    answer(peer.received[1]!);
    answer(peer.received[2]!);
    await peer.arrived(4);
    answer(peer.received[3]!);
    expect((await Promise.all(replies)).map((r) => r['result'])).toEqual(['pong', 'pong', 'pong', 'pong']);
    expect(new Set(peer.received.map((d) => d.cookie)).size).toBe(4);
  });

  it("a queued request's deadline runs while it waits", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const peer = await rawPeer();
    const c = await client(peer.port, { maxInFlight: 1, timeoutMs: 1000 });
    const first = c.request({ command: 'ping' }).catch((e: unknown) => e);
    const queued = c.request({ command: 'list' }).catch((e: unknown) => e);
    await peer.arrived(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await first).toMatchObject({ code: 'NG_TIMEOUT' });
    expect(await queued).toMatchObject({ code: 'NG_TIMEOUT' });
    expect(peer.received.map((d) => (decodeBencode(d.body) as { command: string }).command)).not.toContain('list');
    expect(c.pending).toBe(0);
  });

  it('a burst of 2000 requests to a real ng server all get their reply (no receive-buffer overflow)', async () => {
    const { addresses } = await start();
    const c = await client(addresses.udp[0]!.port);
    const started = Date.now();
    const results = await Promise.allSettled(Array.from({ length: 2000 }, () => c.request({ command: 'list' })));
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(0);
    expect(Date.now() - started).toBeLessThan(2500);
  });
});

describe('NgClient with a hostile or broken peer', () => {
  it('drops datagrams without a cookie or with an unknown cookie, and still gets its reply', async () => {
    const peer = await rawPeer();
    const c = await client(peer.port);
    const reply = c.request({ command: 'ping' });
    await peer.arrived(1);
    const to = peer.received[0]!;
    peer.reply(to, 'garbage-without-space');
    peer.reply(to, 'someone-elses-cookie d6:result4:ponge');
    peer.reply(to, `${to.cookie} d6:result4:ponge`);
    expect((await reply)['result']).toBe('pong');
    expect(c.strayReplies).toBe(2);
  });

  it('rejects only the request whose reply is undecodable or has no result (NG_BAD_REPLY)', async () => {
    const peer = await rawPeer();
    const c = await client(peer.port);
    const bad = c.request({ command: 'query', 'call-id': 'x' }).catch((e: unknown) => e);
    const noResult = c.request({ command: 'query', 'call-id': 'y' }).catch((e: unknown) => e);
    const good = c.request({ command: 'ping' });
    await peer.arrived(3);
    const [first, second, third] = peer.received;
    peer.reply(first!, `${first!.cookie} d6:resulti`);
    peer.reply(second!, `${second!.cookie} d5:callslee`);
    peer.reply(third!, `${third!.cookie} {"result":"pong"}`);
    expect(await bad).toMatchObject({ code: 'NG_BAD_REPLY' });
    expect(await noResult).toMatchObject({ code: 'NG_BAD_REPLY' });
    expect((await good)['result']).toBe('pong');
  });

  it('ping insists on pong', async () => {
    const peer = await rawPeer();
    const c = await client(peer.port);
    const ping = c.ping().catch((e: unknown) => e);
    await peer.arrived(1);
    peer.reply(peer.received[0]!, `${peer.received[0]!.cookie} d6:result2:oke`);
    expect(await ping).toMatchObject({ code: 'NG_BAD_REPLY' });
  });

  it('refuses requests past maxPending without sending them (NG_BUSY)', async () => {
    const peer = await rawPeer();
    const c = await client(peer.port, { maxPending: 2 });
    const a = c.request({ command: 'ping' }).catch(() => undefined);
    const b = c.request({ command: 'ping' }).catch(() => undefined);
    await expect(c.request({ command: 'ping' })).rejects.toMatchObject({ code: 'NG_BUSY' });
    await peer.arrived(2);
    await c.close();
    await Promise.all([a, b]);
    expect(peer.received).toHaveLength(2);
  });
});

describe('NgClient close', () => {
  it('rejects waiting requests with NG_CLOSED, refuses new ones, and is idempotent', async () => {
    const peer = await rawPeer();
    const c = await client(peer.port);
    const waiting = c.request({ command: 'ping' }).catch((e: unknown) => e);
    await peer.arrived(1);
    await Promise.all([c.close(), c.close()]);
    expect(await waiting).toMatchObject({ code: 'NG_CLOSED' });
    await expect(c.request({ command: 'ping' })).rejects.toMatchObject({ code: 'NG_CLOSED' });
    expect(c.closed).toBe(true);
  });

  it('a node that is not listening (ICMP port unreachable) is a timeout, never a socket error', async () => {
    const gone = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => gone.bind(0, HOST, resolve));
    const port = gone.address().port;
    await new Promise<void>((resolve) => gone.close(() => resolve()));
    const c = await client(port, { timeoutMs: 400, retransmitMs: 100 });
    await expect(c.ping()).rejects.toMatchObject({ code: 'NG_TIMEOUT' });
    expect(c.pending).toBe(0);
  });
});
