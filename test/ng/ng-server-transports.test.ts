import { describe, it, expect } from 'vitest';
import dgram from 'node:dgram';
import net from 'node:net';
import os from 'node:os';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { NgServer, WS_PLAIN_SUBPROTOCOL, WS_SUBPROTOCOL } from '../../src/ng/ng-server.ts';
import { answerSdp, RecordingMedia } from './helpers/recording-media.ts';
import { HOST, fixture, frame, open, reply, start, udpClient } from './helpers/ng-harness.ts';

describe('NgServer over TCP', () => {
  async function tcpClient(port: number) {
    const socket = net.connect(port, HOST);
    open.push({ close: () => socket.destroy() });
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    let buffered = '';
    const waiters: Array<() => void> = [];
    socket.on('data', (d) => {
      buffered += d.toString('latin1');
      waiters.splice(0).forEach((w) => w());
    });
    /** Waits until `n` complete replies (each a cookie + one dictionary ending the data so far) are in. */
    const read = async (predicate: (text: string) => boolean) => {
      while (!predicate(buffered)) await new Promise<void>((resolve) => waiters.push(resolve));
      return buffered;
    };
    return { socket, read, closed: new Promise<void>((resolve) => socket.once('close', () => resolve())) };
  }

  it('parses back-to-back and split messages from the stream and answers each', async () => {
    const { addresses } = await start({ tcp: true });
    const client = await tcpClient(addresses.tcp[0]!.port);
    const offer = fixture('kamailio-offer-to-webrtc.bencode');
    client.socket.write(Buffer.concat([frame('t1', { command: 'ping' }), offer.subarray(0, 100)]));
    await new Promise((r) => setTimeout(r, 20));
    client.socket.write(offer.subarray(100, 300));
    client.socket.write(Buffer.concat([offer.subarray(300), frame('t2', { command: 'ping' })]));
    const text = await client.read((t) => t.includes('t1 ') && t.includes('t2 ') && t.includes('0_1804289383_0 '));
    expect(text).toContain('t1 d6:result4:ponge');
    expect(text).toContain('t2 d6:result4:ponge');
    expect(text).toContain(`0_1804289383_0 d6:result2:ok3:sdp`);
  });

  it('answers a retransmission on the connection from the cache', async () => {
    const { media, addresses } = await start({ tcp: true });
    const client = await tcpClient(addresses.tcp[0]!.port);
    const offer = fixture('kamailio-offer-to-webrtc.bencode');
    client.socket.write(offer);
    const once = await client.read((t) => t.endsWith('e') && t.includes('sdp'));
    client.socket.write(offer);
    const twice = await client.read((t) => t.length >= 2 * once.length);
    expect(twice).toBe(once + once);
    expect(media.count('offer')).toBe(1);
  });

  it('closes a connection whose stream is malformed, after an error reply when the cookie was read', async () => {
    const { addresses } = await start({ tcp: true });
    const client = await tcpClient(addresses.tcp[0]!.port);
    client.socket.write('bad-7 d7:commandi05ee');
    await client.closed;
    expect(reply(Buffer.from(await client.read(() => true), 'latin1'))).toEqual({
      cookie: 'bad-7',
      dict: { result: 'error', 'error-reason': expect.stringContaining('leading zero') },
    });
    // The listener itself keeps serving.
    const again = await tcpClient(addresses.tcp[0]!.port);
    again.socket.write(frame('t3', { command: 'ping' }));
    expect(await again.read((t) => t.endsWith('e'))).toBe('t3 d6:result4:ponge');
  });
});

describe('NgServer over WebSocket', () => {
  async function wsClient(port: number, protocol: string) {
    const ws = new WebSocket(`ws://${HOST}:${port}/`, protocol);
    open.push({ close: () => ws.terminate() });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const request = (data: Buffer | string) =>
      new Promise<Buffer>((resolve) => {
        ws.once('message', (d) => resolve(d as Buffer));
        ws.send(data);
      });
    return { ws, request };
  }

  it(`speaks cookie framing on ${WS_SUBPROTOCOL}, as Kamailio's module asks`, async () => {
    const { media, addresses } = await start({ ws: true });
    const client = await wsClient(addresses.ws[0]!.port, WS_SUBPROTOCOL);
    expect(client.ws.protocol).toBe(WS_SUBPROTOCOL);
    const offer = fixture('kamailio-offer-to-webrtc.bencode');
    const first = await client.request(offer);
    expect(reply(first)).toEqual({ cookie: '0_1804289383_0', dict: { result: 'ok', sdp: answerSdp('webrtc', 30002) } });
    expect((await client.request(offer)).equals(first)).toBe(true);
    expect(media.count('offer')).toBe(1);
    expect(reply(await client.request('w-bad d3:abc')).dict['result']).toBe('error');
    expect((await client.request(fixture('kamailio-ping.bencode'))).toString()).toBe('0_719885386_6 d6:result4:ponge');
  });

  it(`speaks bare dictionaries on ${WS_PLAIN_SUBPROTOCOL}`, async () => {
    const { addresses } = await start({ ws: true });
    const client = await wsClient(addresses.ws[0]!.port, WS_PLAIN_SUBPROTOCOL);
    expect((await client.request('d7:command4:pinge')).toString()).toBe('d6:result4:ponge');
    expect((await client.request('{"command":"ping"}')).toString()).toBe('{"result":"pong"}');
  });

  it('uses cookie framing for a client that asks for no subprotocol', async () => {
    const { addresses } = await start({ ws: true });
    const ws = new WebSocket(`ws://${HOST}:${addresses.ws[0]!.port}/`);
    open.push({ close: () => ws.terminate() });
    await once(ws, 'open');
    ws.send('nc-1 d7:command4:pinge');
    const [data, isBinary] = (await once(ws, 'message')) as [Buffer, boolean];
    expect(data.toString()).toBe('nc-1 d6:result4:ponge');
    expect(isBinary).toBe(false);
  });

  it('refuses a client asking only for a subprotocol it does not speak', async () => {
    const { addresses } = await start({ ws: true });
    await expect(wsClient(addresses.ws[0]!.port, 'sip')).rejects.toThrow(/subprotocol/);
  });
});

function hasIPv6Loopback(): boolean {
  return Object.values(os.networkInterfaces()).some((list) => list?.some((i) => i.family === 'IPv6' && i.address === '::1'));
}

describe('NgServer listeners', () => {
  it.skipIf(!hasIPv6Loopback())('serves UDP over IPv6 too', async () => {
    const media = new RecordingMedia();
    const server = await NgServer.listen({ media, udp: [{ host: '::1', port: 0 }] });
    open.push(server);
    const socket = dgram.createSocket('udp6');
    open.push({ close: () => socket.close() });
    await new Promise<void>((resolve) => socket.bind(0, '::1', resolve));
    const got = once(socket, 'message');
    socket.send('v6 d7:command4:pinge', server.addresses.udp[0]!.port, '::1');
    expect(String(((await got) as [Buffer])[0])).toBe('v6 d6:result4:ponge');
  });

  it('fails to start when a port is taken, closing what it had opened', async () => {
    const { addresses } = await start({ tcp: true });
    const media = new RecordingMedia();
    await expect(
      NgServer.listen({ media, udp: [{ host: HOST, port: 0 }], tcp: [{ host: HOST, port: addresses.tcp[0]!.port }] }),
    ).rejects.toThrow(/EADDRINUSE/);
  });

  it('drops a TCP connection whose message outgrows the size limit', async () => {
    const media = new RecordingMedia();
    const server = await NgServer.listen({ media, tcp: [{ host: HOST, port: 0 }], maxMessageLength: 1024 });
    open.push(server);
    const socket = net.connect(server.addresses.tcp[0]!.port, HOST);
    open.push({ close: () => socket.destroy() });
    let received = '';
    socket.on('data', (d) => (received += d.toString()));
    socket.write(`big d3:sdp5000:${'x'.repeat(2000)}`);
    await once(socket, 'close');
    expect(received).toMatch(/^big d12:error-reason\d+:Could not decode bencode dictionary: string of 5000 bytes/);
  });
});

describe('NgServer shutdown', () => {
  it('close() lets a running command answer, then closes its sockets', async () => {
    const { media, server, addresses } = await start();
    let release!: () => void;
    media.gate = new Promise((resolve) => (release = resolve));
    const client = await udpClient(addresses.udp[0]!.port);
    client.send(frame('late-1', { command: 'offer', 'call-id': 'c', 'from-tag': 'f', sdp: 'v=0\r\nm=audio 4000 RTP/AVP 0\r\n' }));
    await new Promise((r) => setTimeout(r, 50));
    const closed = server.close();
    release();
    expect(reply(await client.next()).dict['result']).toBe('ok');
    await closed;
    await expect(server.close()).resolves.toBeUndefined();
  });
});
