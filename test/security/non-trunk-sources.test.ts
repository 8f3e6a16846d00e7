/**
 * `security.nonTrunkSources`: SIP over UDP/TCP from an address that is no trunk is answered 403 (`reject`, the
 * default) or gets nothing at all and leaves no transaction behind (`ignore`); either way it is counted. A real
 * gateway on loopback: the trunk is 127.0.0.1, the stranger sends from 127.0.0.2; browsers over WebSocket are not
 * concerned.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { Cleanup, gatewayFor, phoneFor, sleep, trunkYaml, waitFor } from '../gateway/harness.ts';
import { NonTrunkSources } from '../../src/security/non-trunk-sources.ts';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function invite(from: { address: string; port: number }, transport: 'UDP' | 'TCP', target: number, callId: string): Buffer {
  const sdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';
  return Buffer.from(
    [
      `INVITE sip:+15550001000@127.0.0.1:${target} SIP/2.0`,
      `Via: SIP/2.0/${transport} ${from.address}:${from.port};branch=z9hG4bK-${callId}`,
      'Max-Forwards: 70',
      `From: <sip:scanner@${from.address}>;tag=${callId}`,
      `To: <sip:+15550001000@127.0.0.1>`,
      `Call-ID: ${callId}`,
      'CSeq: 1 INVITE',
      `Contact: <sip:scanner@${from.address}:${from.port}>`,
      'Content-Type: application/sdp',
      `Content-Length: ${Buffer.byteLength(sdp)}`,
      '',
      sdp,
    ].join('\r\n'),
  );
}

const OPTIONS_FROM = (from: { address: string; port: number }, target: number, callId: string): Buffer =>
  Buffer.from(
    [
      `OPTIONS sip:127.0.0.1:${target} SIP/2.0`,
      `Via: SIP/2.0/UDP ${from.address}:${from.port};branch=z9hG4bK-${callId}`,
      'Max-Forwards: 70',
      `From: <sip:scanner@${from.address}>;tag=${callId}`,
      'To: <sip:127.0.0.1>',
      `Call-ID: ${callId}`,
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );

/** A UDP socket on `address` that collects whatever comes back. */
async function udpFrom(address: string): Promise<{ socket: UdpSocket; port: number; received: string[] }> {
  const socket = createSocket('udp4');
  const received: string[] = [];
  socket.on('message', (m) => received.push(m.toString('latin1')));
  await new Promise<void>((resolve) => socket.bind(0, address, resolve));
  cleanup.add(socket, (s) => s.close());
  return { socket, port: socket.address().port, received };
}

async function tcpFrom(address: string, port: number): Promise<{ socket: Socket; received: string[] }> {
  const socket = connect({ host: '127.0.0.1', port, localAddress: address });
  const received: string[] = [];
  socket.on('data', (d) => received.push(d.toString('latin1')));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  cleanup.add(socket, (s) => s.destroy());
  return { socket, received };
}

async function gateway(action?: 'reject' | 'ignore') {
  const yaml = `trunks:
${trunkYaml({ port: 5999 }, { allowedSources: ['127.0.0.1'] })}${action === undefined ? '' : `security: { nonTrunkSources: ${action} }\n`}`;
  return cleanup.add(await gatewayFor(yaml), (g) => g.close());
}

describe('SIP from sources that are no trunk', () => {
  it('is answered 403 by default (reject), counted, and creates no call', async () => {
    const gw = await gateway();
    expect(gw.config.security.nonTrunkSources).toBe('reject');
    const stranger = await udpFrom('127.0.0.2');
    stranger.socket.send(invite({ address: '127.0.0.2', port: stranger.port }, 'UDP', gw.sipPort, 'reject-1'), gw.sipPort, '127.0.0.1');
    const answer = await waitFor(() => stranger.received.find((m) => /^SIP\/2\.0 [1-6]\d\d /.test(m) && !m.startsWith('SIP/2.0 100')), '403');
    expect(answer).toMatch(/^SIP\/2\.0 403 /);
    expect(gw.b2bua.nonTrunk.counters).toMatchObject({ rejected: 1, ignored: 0, sources: 1 });
    expect(gw.b2bua.activeCalls).toBe(0);
    expect(gw.stack.counters.notAdmitted).toBe(0);
  });

  it('in ignore mode gets no response at all over UDP and TCP, leaves no transaction, and is counted', async () => {
    const gw = await gateway('ignore');
    const transactionsBefore = gw.stack.counters.serverTransactions;
    const stranger = await udpFrom('127.0.0.2');
    const from = { address: '127.0.0.2', port: stranger.port };
    // An INVITE, its retransmission and an OPTIONS probe (what SIPVicious sends first).
    stranger.socket.send(invite(from, 'UDP', gw.sipPort, 'ignore-1'), gw.sipPort, '127.0.0.1');
    stranger.socket.send(invite(from, 'UDP', gw.sipPort, 'ignore-1'), gw.sipPort, '127.0.0.1');
    stranger.socket.send(OPTIONS_FROM(from, gw.sipPort, 'ignore-2'), gw.sipPort, '127.0.0.1');
    const tcp = await tcpFrom('127.0.0.2', gw.sipPort);
    tcp.socket.write(invite({ address: '127.0.0.2', port: tcp.socket.localPort! }, 'TCP', gw.sipPort, 'ignore-3'));

    await waitFor(() => gw.stack.counters.notAdmitted >= 4, 'four requests dropped');
    // Long enough for a 100 Trying (sent at once) or a 403; Timer A would retransmit nothing since nothing was sent.
    await sleep(700);
    expect(stranger.received).toEqual([]);
    expect(tcp.received).toEqual([]);
    expect(gw.stack.counters.notAdmitted).toBe(4);
    expect(gw.stack.counters.serverTransactions).toBe(transactionsBefore);
    expect(gw.stack.transactions.callsInSetup).toBe(0);
    expect(gw.b2bua.activeCalls).toBe(0);
    expect(gw.b2bua.nonTrunk.counters).toMatchObject({ rejected: 0, ignored: 4, sources: 1 });
  });

  it('in ignore mode still answers the trunk and still serves browsers over WebSocket', async () => {
    const gw = await gateway('ignore');
    const trunk = await udpFrom('127.0.0.1');
    trunk.socket.send(invite({ address: '127.0.0.1', port: trunk.port }, 'UDP', gw.sipPort, 'trunk-1'), gw.sipPort, '127.0.0.1');
    // No inbound route for the number: the trunk hears a final answer (404), not silence.
    const final = await waitFor(() => trunk.received.find((m) => /^SIP\/2\.0 [2-6]\d\d /.test(m)), 'a final response to the trunk');
    expect(final).toMatch(/^SIP\/2\.0 404 /);
    // A browser registers over WebSocket (digest challenge and all) from loopback like anybody else.
    const phone = cleanup.add(await phoneFor(gw, 'alice'), (p) => p.close());
    expect(phone).toBeDefined();
    expect(gw.stack.counters.notAdmitted).toBe(0);
    expect(gw.b2bua.nonTrunk.counters.ignored).toBe(0);
  });
});

describe('NonTrunkSources', () => {
  it('counts every request, and each source once while it is remembered (bounded)', () => {
    const seen = new NonTrunkSources({ action: 'ignore', maxLoggedSources: 2, summaryIntervalMs: 0 });
    for (const source of ['192.0.2.1', '192.0.2.1', '192.0.2.2', '192.0.2.1']) seen.record(source, 'UDP', 'INVITE', 'ignore');
    expect(seen.counters).toEqual({ rejected: 0, ignored: 4, sources: 2 });
    // A third source pushes out the least recently seen (192.0.2.2): it counts as new when it comes back.
    seen.record('192.0.2.3', 'TCP', 'OPTIONS', 'ignore');
    seen.record('192.0.2.2', 'UDP', 'REGISTER', 'reject');
    expect(seen.counters).toEqual({ rejected: 1, ignored: 5, sources: 4 });
    seen.close();
  });
});
