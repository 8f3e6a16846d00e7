/**
 * What a real Kamailio 5.6.3 sends (fixtures/, captured by kamailio.test.ts): our ng parser takes every datagram
 * without a warning, a whole call replays through the ng server onto the media API, and RemoteMediaNode asks a
 * node for the same jobs with the same media keys. Runs without Kamailio installed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { decodeBencode } from '../../src/ng/bencode.ts';
import type { BencodeDict } from '../../src/ng/bencode.ts';
import { parseNgCommand } from '../../src/ng/ng-command.ts';
import { decodeNgBody, splitCookie } from '../../src/ng/ng-message.ts';
import { NgServer } from '../../src/ng/ng-server.ts';
import { RemoteMediaNode } from '../../src/rtp-bridge/remote-media.ts';
import { RecordingMedia } from '../ng/helpers/recording-media.ts';

const fixture = (name: string): Buffer => readFileSync(path.join(import.meta.dirname, 'fixtures', name));
const dictOf = (name: string): BencodeDict => decodeNgBody(splitCookie(fixture(name)).body).dict;
/** The keys that say what media a side gets (the rest is call identity and SIP context). */
const MEDIA_KEYS = ['ICE', 'DTLS', 'transport-protocol', 'replace'] as const;
const mediaKeys = (dict: BencodeDict) => Object.fromEntries(MEDIA_KEYS.filter((k) => k in dict).map((k) => [k, dict[k]]));

const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close();
});

describe("Kamailio 5.6.3's ng datagrams", () => {
  it.each([
    ['kamailio-5.6-offer-to-plain.bencode', { command: 'offer', flags: { to: 'plain' } }],
    ['kamailio-5.6-answer-to-webrtc.bencode', { command: 'answer', offererKind: 'webrtc' }],
    ['kamailio-5.6-delete.bencode', { command: 'delete', fatal: false }],
    ['kamailio-5.6-offer-to-webrtc.bencode', { command: 'offer', flags: { to: 'webrtc' } }],
    ['kamailio-5.6-answer-to-plain.bencode', { command: 'answer', offererKind: 'plain' }],
  ])('%s parses with no warning', (name, expected) => {
    expect(parseNgCommand(dictOf(name))).toMatchObject({ ...expected, warnings: [] });
  });

  it('a whole call (offer, answer, delete) replays through the ng server onto the media API; replies carry no warning', async () => {
    const media = new RecordingMedia();
    const server = await NgServer.listen({ media, udp: [{ host: '127.0.0.1', port: 0 }] });
    opened.push(server);
    const socket = dgram.createSocket('udp4');
    opened.push({ close: () => socket.close() });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const replies: BencodeDict[] = [];
    const send = (name: string) =>
      new Promise<void>((resolve) => {
        socket.once('message', (msg) => {
          replies.push(decodeBencode(splitCookie(msg).body) as BencodeDict);
          resolve();
        });
        socket.send(fixture(name), server.addresses.udp[0]!.port, '127.0.0.1');
      });
    for (const name of ['kamailio-5.6-offer-to-plain.bencode', 'kamailio-5.6-answer-to-webrtc.bencode', 'kamailio-5.6-delete.bencode']) await send(name);
    expect(replies.map((r) => [r['result'], r['warning']])).toEqual([['ok', undefined], ['ok', undefined], ['ok', undefined]]);
    const offer = dictOf('kamailio-5.6-offer-to-plain.bencode');
    // (the handler's own queries — the answer checks the offerer's kind, delete reads the stats — left out)
    expect(media.calls.filter((c) => c[0] !== 'query').map((c) => c.slice(0, 3))).toEqual([
      ['offer', offer['call-id'], offer['from-tag']],
      ['answer', offer['call-id'], offer['from-tag']],
      ['delete', offer['call-id']],
    ]);
    expect(media.calls[0]![4]).toEqual({ to: 'plain' });
  });

  it('RemoteMediaNode asks for the same jobs with the same media keys as Kamailio', async () => {
    const socket = dgram.createSocket('udp4');
    opened.push({ close: () => socket.close() });
    const seen: BencodeDict[] = [];
    socket.on('message', (msg, rinfo) => {
      const dict = decodeBencode(splitCookie(msg).body) as BencodeDict;
      seen.push(dict);
      const sdp = 'v=0\r\n';
      socket.send(`${splitCookie(msg).cookie.toString()} d3:sdp${sdp.length}:${sdp}6:result2:oke`, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const node = await RemoteMediaNode.connect({ ng: `udp:127.0.0.1:${socket.address().port}`, reconcileEveryMs: 0 });
    opened.push(node);
    const toPlain = dictOf('kamailio-5.6-offer-to-plain.bencode');
    const toWebrtc = dictOf('kamailio-5.6-offer-to-webrtc.bencode');
    await node.offer('a', 'x', String(toPlain['sdp']), { to: 'plain' });
    await node.offer('b', 'y', String(toWebrtc['sdp']), { to: 'webrtc' });
    expect(mediaKeys(seen[0]!)).toEqual(mediaKeys(toPlain));
    expect(mediaKeys(seen[1]!)).toEqual(mediaKeys(toWebrtc));
  });
});
