/**
 * A UDP relay between a proxy's rtpengine module and a media node that keeps every ng datagram, so a test can
 * look at exactly what Kamailio sent (and save real captures as fixtures). Each source socket of the proxy (one
 * per Kamailio process) gets its own upstream socket, so replies find their way back.
 */
import dgram from 'node:dgram';
import { decodeBencode } from '../../../src/ng/bencode.ts';
import type { BencodeDict } from '../../../src/ng/bencode.ts';

export interface RelayedMessage {
  direction: 'request' | 'reply';
  /** The whole datagram as it went through. */
  raw: Buffer;
  cookie: string;
  dict: BencodeDict | undefined;
}

export interface NgRelay {
  /** Where the proxy should send: `udp:127.0.0.1:<port>`. */
  readonly ng: string;
  readonly messages: RelayedMessage[];
  /** Requests whose `command` is `command` (and `call-id` is `callId`, when given). */
  requests(command: string, callId?: string): RelayedMessage[];
  close(): Promise<void>;
}

function parse(raw: Buffer, direction: RelayedMessage['direction']): RelayedMessage {
  const space = raw.indexOf(0x20);
  let dict: BencodeDict | undefined;
  try {
    dict = decodeBencode(raw.subarray(space + 1)) as BencodeDict;
  } catch {
    dict = undefined;
  }
  return { direction, raw, cookie: raw.subarray(0, Math.max(0, space)).toString('latin1'), dict };
}

export async function startNgRelay(target: { host: string; port: number }): Promise<NgRelay> {
  const front = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => front.bind(0, '127.0.0.1', resolve));
  const upstreams = new Map<string, dgram.Socket>();
  const messages: RelayedMessage[] = [];
  front.on('message', (msg, from) => {
    messages.push(parse(msg, 'request'));
    const key = `${from.address}:${from.port}`;
    let up = upstreams.get(key);
    if (up === undefined) {
      const socket = dgram.createSocket('udp4');
      socket.bind(0, '127.0.0.1');
      socket.on('message', (reply) => {
        messages.push(parse(reply, 'reply'));
        front.send(reply, from.port, from.address);
      });
      socket.on('error', () => undefined);
      upstreams.set(key, socket);
      up = socket;
    }
    up.send(msg, target.port, target.host);
  });
  front.on('error', () => undefined);
  return {
    ng: `udp:127.0.0.1:${front.address().port}`,
    messages,
    requests: (command, callId) =>
      messages.filter((m) => m.direction === 'request' && m.dict?.['command'] === command && (callId === undefined || m.dict?.['call-id'] === callId)),
    async close() {
      await Promise.all([front, ...upstreams.values()].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}
