/**
 * RemoteMediaNode: the media API as ng dictionaries. What it sends is checked twice: against the ng parser the
 * media node runs (no warnings: every key is understood) and against the shape Kamailio's rtpengine module sends
 * (test/fixtures/ng), and then end to end through a real NgServer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { decodeBencode } from '../../src/ng/bencode.ts';
import type { BencodeDict } from '../../src/ng/bencode.ts';
import { parseNgCommand } from '../../src/ng/ng-command.ts';
import { NgServer } from '../../src/ng/ng-server.ts';
import type { OfferFlags } from '../../src/rtp-bridge/media-api.ts';
import { RemoteMediaNode } from '../../src/rtp-bridge/remote-media.ts';
import { parseQueryReply } from '../../src/ng/ng-client.ts';
import { sessionReplyFields } from '../../src/ng/ng-reply.ts';
import { RecordingMedia } from '../ng/helpers/recording-media.ts';

const OFFER = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n';
const WEBRTC_ANSWER = OFFER.replace('RTP/AVP', 'UDP/TLS/RTP/SAVPF');

const opened: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const o of opened.splice(0).reverse()) await o.close();
});

async function nodeWithServer(options: { reconcileEveryMs?: number } = {}) {
  const media = new RecordingMedia();
  const server = await NgServer.listen({ media, udp: [{ host: '127.0.0.1', port: 0 }] });
  opened.push(server);
  const remote = await RemoteMediaNode.connect({
    ng: `udp:127.0.0.1:${server.addresses.udp[0]!.port}`,
    name: 'node-1',
    reconcileEveryMs: options.reconcileEveryMs ?? 0,
  });
  opened.push(remote);
  return { media, server, remote };
}

/** A UDP peer that captures what the node sends and answers `reply(dict)` to each datagram. */
async function capturingPeer(reply: (dict: BencodeDict) => string) {
  const socket = dgram.createSocket('udp4');
  const seen: BencodeDict[] = [];
  socket.on('message', (msg, rinfo) => {
    const space = msg.indexOf(0x20);
    const dict = decodeBencode(msg.subarray(space + 1)) as BencodeDict;
    seen.push(dict);
    socket.send(`${msg.subarray(0, space).toString()} ${reply(dict)}`, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  opened.push({ close: () => socket.close() });
  const remote = await RemoteMediaNode.connect({ ng: `udp:127.0.0.1:${socket.address().port}`, reconcileEveryMs: 0, timeoutMs: 500 });
  opened.push(remote);
  return { seen, remote };
}

const SDP_REPLY = (d: BencodeDict) => `d3:sdp${String(d['sdp']).length}:${String(d['sdp'])}6:result2:oke`;

describe('RemoteMediaNode speaks ng as Kamailio does', () => {
  it('an offer towards a browser: UDP/TLS/RTP/SAVPF, ICE force, DTLS passive, replace origin and c=; no warnings', async () => {
    const { seen, remote } = await capturingPeer(SDP_REPLY);
    await remote.offer('call-1', 'tag-a', OFFER, { to: 'webrtc' });
    expect(seen[0]).toEqual({
      command: 'offer',
      'call-id': 'call-1',
      'from-tag': 'tag-a',
      sdp: OFFER,
      'transport-protocol': 'UDP/TLS/RTP/SAVPF',
      ICE: 'force',
      DTLS: 'passive',
      replace: ['origin', 'session-connection'],
    });
    const parsed = parseNgCommand(seen[0]!);
    expect(parsed).toMatchObject({ command: 'offer', flags: { to: 'webrtc' }, warnings: [] });
  });

  it('an offer towards a trunk: RTP/AVP, ICE remove; codec strip, latching flags and label carried; no warnings', async () => {
    const { seen, remote } = await capturingPeer(SDP_REPLY);
    const flags: OfferFlags = { to: 'plain', codecs: { strip: ['PCMA'] }, strictSource: false, trustAddress: true, label: 'browser→trunk' };
    await remote.offer('call-2', 'tag-a', OFFER, flags);
    expect(seen[0]).toMatchObject({
      'transport-protocol': 'RTP/AVP',
      ICE: 'remove',
      codec: { strip: ['PCMA'] },
      flags: ['trust-address', 'media-handover'],
      label: 'browser→trunk',
    });
    expect(seen[0]).not.toHaveProperty('DTLS');
    const parsed = parseNgCommand(seen[0]!);
    expect(parsed).toMatchObject({ command: 'offer', warnings: [] });
    expect(parsed.command === 'offer' && parsed.flags).toEqual(flags);
  });

  it('an allow-list becomes codec strip all + except (what rtpengine keeps), minus anything stripped', async () => {
    const { seen, remote } = await capturingPeer(SDP_REPLY);
    await remote.offer('call-3', 'a', OFFER, { to: 'plain', codecs: { allow: ['PCMU', 'PCMA'], strip: ['PCMA'] } });
    expect(seen[0]!['codec']).toEqual({ strip: ['all'], except: ['PCMU'] });
    const parsed = parseNgCommand(seen[0]!);
    expect(parsed.command === 'offer' && parsed.flags.codecs).toEqual({ allow: ['PCMU'] });
    await expect(remote.offer('call-4', 'a', OFFER, { to: 'plain', codecs: { allow: ['PCMA'], strip: ['PCMA'] } })).rejects.toMatchObject({ status: 488 });
  });

  it('answer names the offerer in from-tag and the answerer in to-tag; delete names only the call', async () => {
    const { seen, remote } = await capturingPeer(SDP_REPLY);
    await remote.offer('call-5', 'a', OFFER, { to: 'webrtc' });
    await remote.answer('call-5', 'a', 'b', WEBRTC_ANSWER, { strictSource: true });
    await remote.delete('call-5');
    expect(seen[1]).toEqual({
      command: 'answer',
      'call-id': 'call-5',
      'from-tag': 'a',
      'to-tag': 'b',
      sdp: WEBRTC_ANSWER,
      replace: ['origin', 'session-connection'],
      flags: ['strict-source'],
    });
    expect(parseNgCommand(seen[1]!)).toMatchObject({ command: 'answer', warnings: [] });
    expect(seen[2]).toEqual({ command: 'delete', 'call-id': 'call-5' });
  });
});

describe('RemoteMediaNode through a real ng server', () => {
  it('offer/answer reach the media API with the flags given; the SDP comes back', async () => {
    const { media, remote } = await nodeWithServer();
    const flags: OfferFlags = { to: 'webrtc', codecs: { strip: ['PCMA'] }, strictSource: true, label: 'x' };
    const out = await remote.offer('c1', 'a', OFFER, flags);
    expect(out).toMatch(/UDP\/TLS\/RTP\/SAVPF/);
    await remote.answer('c1', 'a', 'b', WEBRTC_ANSWER);
    expect(media.calls[0]).toEqual(['offer', 'c1', 'a', OFFER, flags]);
    expect(media.calls[1]!.slice(0, 4)).toEqual(['answer', 'c1', 'a', 'b']);
    expect(remote.activeCalls).toBe(1);
  });

  it('query comes back as the SessionStats the node holds (to ng precision)', async () => {
    const { media, remote } = await nodeWithServer();
    await remote.offer('c1', 'a', OFFER, { to: 'plain' });
    await remote.answer('c1', 'a', 'b', OFFER);
    const stats = await remote.query('c1');
    const held = media.sessions.get('c1')!;
    expect(stats?.callId).toBe('c1');
    expect(stats?.createdAt).toBe(held.createdAt);
    expect(stats?.legs.map((l) => l.tag)).toEqual(['a', 'b']);
    expect(stats?.legs[0]).toMatchObject({
      kind: held.legs[0]!.kind,
      local: held.legs[0]!.local,
      remote: held.legs[0]!.remote,
      state: 'active',
      direction: 'sendrecv',
      packetsIn: 50,
      packetsOut: 49,
      bytesIn: 8600,
      bytesOut: 8428,
      lost: 1,
      jitterMs: 2, // ng carries whole milliseconds
      dropped: 3,
    });
    expect(await remote.query('unknown')).toBeUndefined();
  });

  it('list, statistics, block/unblock media, play DTMF and delete map onto the media API', async () => {
    const { media, remote } = await nodeWithServer();
    await remote.offer('c1', 'a', OFFER, { to: 'plain' });
    await remote.answer('c1', 'a', 'b', OFFER);
    expect(await remote.list()).toEqual(['c1']);
    expect(await remote.statistics()).toEqual({ sessions: 1, legs: 2, portsInUse: 4, packetsRelayed: 1234 });
    await remote.blockMedia('c1', 'a', true);
    await remote.blockMedia('c1', undefined, false);
    await remote.playDtmf('c1', 'b', '#', 250);
    await remote.delete('c1');
    await remote.delete('c1'); // idempotent
    const rest = media.calls.filter((c) => ['blockMedia', 'playDtmf', 'delete'].includes(c[0]));
    expect(rest).toEqual([
      ['blockMedia', 'c1', 'a', true],
      ['blockMedia', 'c1', undefined, false],
      ['playDtmf', 'c1', 'b', '#', 250],
      ['delete', 'c1'],
      ['delete', 'c1'],
    ]);
    expect(remote.activeCalls).toBe(0);
  });

  it("the node's refusal is a MEDIA_NODE_ERROR with its reason (488 for offers); silence is 503 MEDIA_NODE_UNAVAILABLE", async () => {
    const { remote, server } = await nodeWithServer();
    await expect(remote.offer('explode', 'a', OFFER, { to: 'plain' })).rejects.toMatchObject({
      code: 'MEDIA_NODE_ERROR',
      status: 488,
      message: 'No free media ports',
    });
    await expect(remote.answer('nope', 'a', 'b', OFFER)).rejects.toMatchObject({ code: 'MEDIA_NODE_ERROR', status: 488 });
    await server.close();
    const quiet = await RemoteMediaNode.connect({ ng: remote.address, reconcileEveryMs: 0, timeoutMs: 300 });
    opened.push(quiet);
    await expect(quiet.offer('c9', 'a', OFFER, { to: 'plain' })).rejects.toMatchObject({ code: 'MEDIA_NODE_UNAVAILABLE', status: 503 });
    await expect(quiet.ping(200)).rejects.toMatchObject({ code: 'NG_TIMEOUT' });
  });

  it('reconcile reports (as failed) a call the node ended by itself, once, and leaves the others', async () => {
    const { media, remote } = await nodeWithServer();
    await remote.offer('kept', 'a', OFFER, { to: 'plain' });
    await remote.offer('timed-out', 'x', OFFER, { to: 'plain' });
    await new Promise((r) => setTimeout(r, 5));
    const failed: Array<[string, string, string]> = [];
    remote.on('failed', (callId, tag, reason) => failed.push([callId, tag, reason]));
    media.sessions.delete('timed-out'); // what the node does after a media timeout
    expect(await remote.reconcile()).toEqual(['timed-out']);
    expect(await remote.reconcile()).toEqual([]);
    expect(failed).toEqual([['timed-out', 'x', 'the media node node-1 no longer has the call']]);
    expect(remote.activeCalls).toBe(1);
  });

  it('reconcile runs by itself every reconcileEveryMs', async () => {
    const { media, remote } = await nodeWithServer({ reconcileEveryMs: 50 });
    await remote.offer('c1', 'a', OFFER, { to: 'plain' });
    const failed = new Promise<string>((resolve) => remote.on('failed', (callId) => resolve(callId)));
    media.sessions.delete('c1');
    expect(await failed).toBe('c1');
  });

  it('close() deletes the calls it created on the node', async () => {
    const { media, remote } = await nodeWithServer();
    await remote.offer('c1', 'a', OFFER, { to: 'plain' });
    await remote.offer('c2', 'a', OFFER, { to: 'plain' });
    await Promise.all([remote.close(), remote.close()]);
    expect(media.sessions.size).toBe(0);
  });
});

describe('parseQueryReply', () => {
  it('reads what the ng server writes, and never throws on a hostile reply', () => {
    const stats = {
      callId: 'c',
      createdAt: 1_700_000_000_123,
      legs: [
        {
          tag: 'a', kind: 'webrtc' as const, local: { address: '127.0.0.1', port: 4000 }, remote: { address: '127.0.0.1', port: 5000 },
          state: 'active', direction: 'sendrecv', packetsIn: 1, packetsOut: 2, bytesIn: 3, bytesOut: 4, lost: 5, jitterMs: 6,
          rttMs: 7, dropped: 8, lastPacketAgoMs: 2000,
        },
      ],
    };
    const now = 1_700_000_100_000;
    const reply = { result: 'ok', ...sessionReplyFields(stats, now) } as unknown as BencodeDict;
    const back = parseQueryReply('c', reply, now);
    expect(back.legs[0]).toMatchObject({ ...stats.legs[0], lastPacketAgoMs: expect.any(Number) });
    expect(back.legs[0]!.lastPacketAgoMs).toBeLessThan(3000);
    for (const hostile of [{}, { tags: 'x' }, { tags: { a: 1, b: { medias: 'no' } } }, { tags: { a: { medias: [{ streams: [7] }] } } }]) {
      expect(() => parseQueryReply('c', hostile as unknown as BencodeDict, now)).not.toThrow();
    }
  });
});
