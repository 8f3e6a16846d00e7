/**
 * Shared pieces of the ng server tests: a server over a RecordingMedia on 127.0.0.1 (closed after each test),
 * request framing, reply decoding, and a UDP client that waits for replies.
 */
import { afterEach } from 'vitest';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { decodeBencode, encodeBencode } from '../../../src/ng/bencode.ts';
import type { BencodeDict, BencodeInput } from '../../../src/ng/bencode.ts';
import { NgServer } from '../../../src/ng/ng-server.ts';
import { RecordingMedia } from './recording-media.ts';

export const HOST = '127.0.0.1';
export const fixture = (name: string) => readFileSync(new URL(`../../fixtures/ng/${name}`, import.meta.url));

/** Everything a test opens; closed (in reverse) after each test of the file that imports this module. */
export const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close();
});

export async function start(options: { udp?: boolean; tcp?: boolean; ws?: boolean } = { udp: true }) {
  const media = new RecordingMedia();
  const at = [{ host: HOST, port: 0 }];
  const server = await NgServer.listen({
    media,
    udp: options.udp ? at : [],
    tcp: options.tcp ? at : [],
    ws: options.ws ? at : [],
    parse: { interfaces: ['default'] },
  });
  open.push(server);
  return { media, server, addresses: server.addresses };
}

export const frame = (cookie: string, dict: BencodeInput) => Buffer.concat([Buffer.from(`${cookie} `), encodeBencode(dict)]);

/** Splits a reply into its cookie and decoded dictionary. */
export function reply(data: Buffer): { cookie: string; dict: BencodeDict } {
  const space = data.indexOf(0x20);
  return { cookie: data.subarray(0, space).toString(), dict: decodeBencode(data.subarray(space + 1)) as BencodeDict };
}

export async function udpClient(port: number) {
  const socket = dgram.createSocket('udp4');
  open.push({ close: () => socket.close() });
  await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
  const inbox: Buffer[] = [];
  const waiters: Array<(b: Buffer) => void> = [];
  socket.on('message', (msg) => {
    const waiter = waiters.shift();
    if (waiter) waiter(msg);
    else inbox.push(msg);
  });
  const next = (timeoutMs = 2000) =>
    new Promise<Buffer>((resolve, reject) => {
      const queued = inbox.shift();
      if (queued) return resolve(queued);
      const waiter = (b: Buffer) => {
        clearTimeout(timer);
        resolve(b);
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new Error('no reply'));
      }, timeoutMs);
      waiters.push(waiter);
    });
  const send = (data: Buffer | string) => socket.send(data, port, HOST);
  const request = async (data: Buffer | string) => {
    send(data);
    return next();
  };
  return { socket, send, next, request, inbox };
}
