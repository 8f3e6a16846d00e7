import { afterEach, describe, expect, it, vi } from 'vitest';
import { GatewayError } from '../../src/errors.ts';
import { NgServer } from '../../src/ng/ng-server.ts';
import type { OfferFlags } from '../../src/rtp-bridge/media-api.ts';
import { MediaDispatcher, type DispatchNode } from '../../src/rtp-bridge/media-dispatcher.ts';
import { RemoteMediaNode } from '../../src/rtp-bridge/remote-media.ts';
import { RecordingMedia } from '../ng/helpers/recording-media.ts';

const OFFER = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';
const ANSWER = OFFER.replace('4000', '4002');
const TO_PLAIN: OfferFlags = { to: 'plain' };

/** A node whose ping the test switches on and off. */
function node(name: string, media = new RecordingMedia()) {
  const health = { up: true, pings: 0 };
  const entry: DispatchNode = {
    name,
    media,
    ping: async () => {
      health.pings++;
      if (!health.up) throw new Error(`${name} does not answer`);
    },
  };
  return { entry, media, health };
}

/** A node that is full: every new call is refused with 503 (as a media plane out of ports says). */
class FullMedia extends RecordingMedia {
  override async offer(callId: string): Promise<string> {
    this.calls.push(['offer', callId]);
    throw new GatewayError('NO_PORTS', 'No free media ports', { status: 503 });
  }
}

const dispatchers: MediaDispatcher[] = [];
async function dispatcher(nodes: DispatchNode[], options: { maxMissedPings?: number; loadIntervalMs?: number } = {}) {
  const d = await MediaDispatcher.create({ nodes, pingIntervalMs: 1000, loadIntervalMs: 0, ...options });
  dispatchers.push(d);
  return d;
}

afterEach(async () => {
  for (const d of dispatchers.splice(0)) await d.close();
  vi.useRealTimers();
});

describe('MediaDispatcher placement', () => {
  it('puts each new call on the node with the fewest calls, and keeps every later command of a call on its node', async () => {
    const a = node('a');
    const b = node('b');
    const d = await dispatcher([a.entry, b.entry]);
    for (const id of ['c1', 'c2', 'c3', 'c4']) await d.offer(id, 'from', OFFER, TO_PLAIN);
    expect(d.status().map((s) => [s.name, s.calls])).toEqual([['a', 2], ['b', 2]]);
    const home = d.nodeOf('c3')!;
    const mine = home === 'a' ? a.media : b.media;
    const other = home === 'a' ? b.media : a.media;
    await d.answer('c3', 'from', 'to', ANSWER);
    await d.query('c3');
    await d.blockMedia('c3', 'from', true);
    await d.playDtmf('c3', 'to', '5', 100);
    await d.offer('c3', 'to', OFFER, TO_PLAIN); // a re-offer: same node
    await d.delete('c3');
    const c3 = (m: RecordingMedia) => m.calls.filter((c) => c[1] === 'c3').map((c) => c[0]);
    expect(c3(mine)).toEqual(['offer', 'answer', 'query', 'blockMedia', 'playDtmf', 'offer', 'delete']);
    expect(c3(other)).toEqual([]);
    expect(d.nodeOf('c3')).toBeUndefined();
    expect(await d.list()).toEqual(['c1', 'c2', 'c4']);
  });

  it('a call that was deleted frees its place: the next call goes there', async () => {
    const a = node('a');
    const b = node('b');
    const d = await dispatcher([a.entry, b.entry]);
    await d.offer('c1', 'f', OFFER, TO_PLAIN);
    await d.offer('c2', 'f', OFFER, TO_PLAIN);
    const freed = d.nodeOf('c1');
    await d.delete('c1');
    await d.offer('c3', 'f', OFFER, TO_PLAIN);
    expect(d.nodeOf('c3')).toBe(freed);
  });

  it('counts the load a node reports (sessions of other proxies on a shared node)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const a = node('a');
    const b = node('b');
    for (let i = 0; i < 5; i++) b.media.sessions.set(`foreign-${i}`, { callId: `foreign-${i}`, createdAt: 0, legs: [] });
    const d = await dispatcher([a.entry, b.entry], { loadIntervalMs: 5000 });
    await vi.advanceTimersByTimeAsync(5000);
    expect(d.status().find((s) => s.name === 'b')?.reportedSessions).toBe(5);
    for (const id of ['c1', 'c2', 'c3', 'c4']) await d.offer(id, 'f', OFFER, TO_PLAIN);
    expect(d.status().map((s) => [s.name, s.calls])).toEqual([['a', 4], ['b', 0]]);
  });

  it('a node that refuses a new call with 503 is skipped: the call lands on the next one, and is deleted on the first', async () => {
    const full = node('full', new FullMedia());
    const b = node('b');
    const d = await dispatcher([full.entry, b.entry]);
    for (const id of ['c1', 'c2']) await d.offer(id, 'f', OFFER, TO_PLAIN);
    expect([d.nodeOf('c1'), d.nodeOf('c2')]).toEqual(['b', 'b']);
    expect(full.media.count('offer')).toBeGreaterThanOrEqual(1);
    await vi.waitFor(() => expect(full.media.count('delete')).toBe(full.media.count('offer')));
  });

  it('any other refusal (488: the SDP) is the answer: not retried elsewhere', async () => {
    class Refusing extends RecordingMedia {
      override async offer(callId: string): Promise<string> {
        this.calls.push(['offer', callId]);
        throw new GatewayError('NO_COMMON_CODEC', 'no common codec', { status: 488 });
      }
    }
    const a = node('a', new Refusing());
    const b = node('b', new Refusing());
    const d = await dispatcher([a.entry, b.entry]);
    await expect(d.offer('c1', 'f', OFFER, TO_PLAIN)).rejects.toMatchObject({ status: 488 });
    expect(a.media.count('offer') + b.media.count('offer')).toBe(1);
    expect(d.nodeOf('c1')).toBeUndefined();
  });

  it('with no node able to take the call, the offer fails with 503 MEDIA_UNAVAILABLE', async () => {
    const d = await dispatcher([node('full', new FullMedia()).entry]);
    await expect(d.offer('c1', 'f', OFFER, TO_PLAIN)).rejects.toMatchObject({ code: 'MEDIA_UNAVAILABLE', status: 503 });
  });

  it('commands for a call it never placed fail as unknown (481); query answers undefined; delete is a no-op', async () => {
    const d = await dispatcher([node('a').entry]);
    await expect(d.answer('nope', 'f', 't', ANSWER)).rejects.toMatchObject({ code: 'UNKNOWN_CALL', status: 481 });
    await expect(d.playDtmf('nope', 't', '1', 100)).rejects.toMatchObject({ status: 481 });
    expect(await d.query('nope')).toBeUndefined();
    await d.delete('nope');
  });

  it('a delete that races the creating offer waits for it, so the session is not left behind on the node', async () => {
    const a = node('a');
    let release: () => void = () => {};
    a.media.gate = new Promise<void>((resolve) => (release = resolve));
    const d = await dispatcher([a.entry]);
    const offer = d.offer('c1', 'f', OFFER, TO_PLAIN);
    const deleted = d.delete('c1');
    await new Promise((r) => setTimeout(r, 20));
    const deletesWhileOffering = a.media.count('delete');
    release();
    expect(deletesWhileOffering).toBe(0);
    await offer;
    await deleted;
    expect(a.media.calls.map((c) => c[0])).toEqual(['offer', 'delete']);
    expect(a.media.sessions.size).toBe(0);
  });
});

describe('MediaDispatcher health: ng ping every second, N misses take a node out', () => {
  it('after 3 missed pings the node is out: its calls fail (so the B2BUA ends them), new calls go elsewhere', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const a = node('a');
    const b = node('b');
    const d = await dispatcher([a.entry, b.entry]);
    for (const id of ['c1', 'c2', 'c3', 'c4']) await d.offer(id, `tag-${id}`, OFFER, TO_PLAIN);
    const onA = ['c1', 'c2', 'c3', 'c4'].filter((id) => d.nodeOf(id) === 'a');
    const failed: Array<[string, string, string]> = [];
    const down: Array<[string, number]> = [];
    d.on('failed', (callId, tag, reason) => {
      failed.push([callId, tag, reason]);
      void d.delete(callId); // what the B2BUA does when it ends the call
    });
    d.on('node-down', (name, calls) => down.push([name, calls]));

    a.health.up = false;
    await vi.advanceTimersByTimeAsync(2000);
    expect(d.status()[0]).toMatchObject({ state: 'up', missedPings: 2 });
    expect(failed).toEqual([]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(d.status()[0]).toMatchObject({ name: 'a', state: 'down', calls: 0, missedPings: 3 });
    expect(down).toEqual([['a', 2]]);
    expect(failed.map(([id, tag]) => [id, tag]).sort()).toEqual(onA.map((id) => [id, `tag-${id}`]).sort());
    expect(failed[0]![2]).toMatch(/media node a stopped answering/);
    expect(a.media.count('delete')).toBe(0); // a node that does not answer is not asked

    await d.offer('c5', 'f', OFFER, TO_PLAIN);
    await d.offer('c6', 'f', OFFER, TO_PLAIN);
    expect([d.nodeOf('c5'), d.nodeOf('c6')]).toEqual(['b', 'b']);
    expect((await d.list()).sort()).toEqual(['c1', 'c2', 'c3', 'c4', 'c5', 'c6'].filter((id) => !onA.includes(id)).sort());
  });

  it('comes back at its first answer, and the calls it held then are deleted on it', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const a = node('a');
    const b = node('b');
    const d = await dispatcher([a.entry, b.entry]);
    for (const id of ['c1', 'c2']) await d.offer(id, 'f', OFFER, TO_PLAIN);
    const onA = ['c1', 'c2'].find((id) => d.nodeOf(id) === 'a')!;
    const up: string[] = [];
    d.on('node-up', (name) => up.push(name));
    a.health.up = false;
    await vi.advanceTimersByTimeAsync(3000);
    expect(d.status()[0]!.state).toBe('down');
    a.health.up = true;
    await vi.advanceTimersByTimeAsync(1000);
    expect(up).toEqual(['a']);
    expect(d.status()[0]).toMatchObject({ state: 'up', missedPings: 0 });
    expect(a.media.calls.filter((c) => c[0] === 'delete').map((c) => c[1])).toEqual([onA]);
    await d.offer('c3', 'f', OFFER, TO_PLAIN);
    expect(d.nodeOf('c3')).toBe('a');
  });

  it('a node that keeps its calls when silent (a supervised worker) only leaves placement: its calls carry on', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const a = node('a');
    const b = node('b');
    const d = await dispatcher([{ ...a.entry, keepCallsWhenSilent: true }, b.entry]);
    for (const id of ['c1', 'c2']) await d.offer(id, 'f', OFFER, TO_PLAIN);
    const onA = ['c1', 'c2'].find((id) => d.nodeOf(id) === 'a')!;
    const failed: string[] = [];
    d.on('failed', (callId) => failed.push(callId));
    a.health.up = false;
    await vi.advanceTimersByTimeAsync(3000);
    expect(d.status()[0]).toMatchObject({ name: 'a', state: 'down', calls: 1 });
    expect(failed).toEqual([]);
    await d.offer('c3', 'f', OFFER, TO_PLAIN);
    expect(d.nodeOf('c3')).toBe('b');
    // Its calls still reach it, and coming back deletes nothing.
    await d.answer(onA, 'f', 't', ANSWER);
    expect(a.media.count('answer')).toBe(1);
    a.health.up = true;
    await vi.advanceTimersByTimeAsync(1000);
    expect(d.status()[0]).toMatchObject({ state: 'up', calls: 1 });
    expect(a.media.count('delete')).toBe(0);
  });

  it('misses that are not in a row do not take a node out', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const a = node('a');
    const d = await dispatcher([a.entry]);
    for (const upNow of [false, false, true, false, false, true, false, false]) {
      a.health.up = upNow;
      await vi.advanceTimersByTimeAsync(1000);
    }
    expect(d.status()[0]!.state).toBe('up');
  });

  it('a node already silent at start-up starts out of rotation; a node without a probe is always up', async () => {
    const silent = node('silent');
    silent.health.up = false;
    const local: DispatchNode = { name: 'local', media: new RecordingMedia() };
    const d = await dispatcher([silent.entry, local]);
    expect(d.status().map((s) => [s.name, s.state])).toEqual([['silent', 'down'], ['local', 'up']]);
    await d.offer('c1', 'f', OFFER, TO_PLAIN);
    expect(d.nodeOf('c1')).toBe('local');
    silent.health.up = true;
    await d.checkHealth();
    expect(d.status()[0]).toMatchObject({ state: 'up', missedPings: 0 });
  });
});

describe('MediaDispatcher events and lifecycle', () => {
  it("passes a node's events on only for the calls placed on that node", async () => {
    const a = node('a');
    const b = node('b');
    const d = await dispatcher([a.entry, b.entry]);
    await d.offer('c1', 'f', OFFER, TO_PLAIN);
    const home = d.nodeOf('c1') === 'a' ? a.media : b.media;
    const away = home === a.media ? b.media : a.media;
    const seen: string[] = [];
    d.on('timeout', (callId, tag) => seen.push(`timeout ${callId} ${tag}`));
    d.on('dtmf', (callId, tag, digit) => seen.push(`dtmf ${callId} ${tag} ${digit}`));
    d.on('failed', (callId, tag, reason) => seen.push(`failed ${callId} ${tag} ${reason}`));
    home.emit('dtmf', 'c1', 'f', '7');
    home.emit('timeout', 'c1', 'f');
    away.emit('timeout', 'c1', 'f');
    home.emit('failed', 'other-call', 'f', 'x');
    home.emit('failed', 'c1', 'f', 'DTLS fingerprint mismatch');
    expect(seen).toEqual(['dtmf c1 f 7', 'timeout c1 f', 'failed c1 f DTLS fingerprint mismatch']);
  });

  it('statistics add up the nodes that are up', async () => {
    const a = node('a');
    const b = node('b');
    const d = await dispatcher([a.entry, b.entry]);
    for (const id of ['c1', 'c2', 'c3']) await d.offer(id, 'f', OFFER, TO_PLAIN);
    expect(await d.statistics()).toEqual({ sessions: 3, legs: 6, portsInUse: 12, packetsRelayed: 2468 });
  });

  it('close() closes every node once, is idempotent, and refuses new calls with 503', async () => {
    const a = node('a');
    const b = node('b');
    const d = await dispatcher([a.entry, b.entry]);
    await Promise.all([d.close(), d.close()]);
    expect([a.media.count('close'), b.media.count('close')]).toEqual([1, 1]);
    await expect(d.offer('c1', 'f', OFFER, TO_PLAIN)).rejects.toMatchObject({ status: 503 });
  });

  it('refuses an empty node list and duplicate names', async () => {
    await expect(MediaDispatcher.create({ nodes: [] })).rejects.toMatchObject({ code: 'MEDIA_CONFIG' });
    await expect(MediaDispatcher.create({ nodes: [node('x').entry, node('x').entry] })).rejects.toMatchObject({ code: 'MEDIA_CONFIG' });
  });
});

describe('MediaDispatcher over real ng nodes (RemoteMediaNode → NgServer)', () => {
  it('a node whose ng server goes away is taken out after the missed pings, and comes back when it listens again', async () => {
    const mediaA = new RecordingMedia();
    const mediaB = new RecordingMedia();
    let serverA = await NgServer.listen({ media: mediaA, udp: [{ host: '127.0.0.1', port: 0 }] });
    const serverB = await NgServer.listen({ media: mediaB, udp: [{ host: '127.0.0.1', port: 0 }] });
    const portA = serverA.addresses.udp[0]!.port;
    const remoteA = await RemoteMediaNode.connect({ ng: `udp:127.0.0.1:${portA}`, name: 'A', reconcileEveryMs: 0 });
    const remoteB = await RemoteMediaNode.connect({ ng: `udp:127.0.0.1:${serverB.addresses.udp[0]!.port}`, name: 'B', reconcileEveryMs: 0 });
    const asNode = (r: RemoteMediaNode): DispatchNode => ({ name: r.name, media: r, ping: (t) => r.ping(t) });
    const d = await MediaDispatcher.create({ nodes: [asNode(remoteA), asNode(remoteB)], pingIntervalMs: 100, maxMissedPings: 3, loadIntervalMs: 0 });
    try {
      for (const id of ['c1', 'c2']) await d.offer(id, 'f', OFFER, TO_PLAIN);
      expect([...mediaA.sessions.keys(), ...mediaB.sessions.keys()].sort()).toEqual(['c1', 'c2']);
      const onA = [...mediaA.sessions.keys()];
      expect(onA).toHaveLength(1);
      const failed: string[] = [];
      d.on('failed', (callId) => failed.push(callId));
      const down = new Promise<void>((resolve) => d.on('node-down', () => resolve()));
      const started = Date.now();
      await serverA.close();
      await down;
      expect(Date.now() - started).toBeLessThan(1500);
      expect(failed).toEqual(onA);
      await d.offer('c3', 'f', OFFER, TO_PLAIN);
      expect(d.nodeOf('c3')).toBe('B');

      const up = new Promise<void>((resolve) => d.on('node-up', () => resolve()));
      serverA = await NgServer.listen({ media: mediaA, udp: [{ host: '127.0.0.1', port: portA }] });
      await up;
      // The call that failed with the node is deleted on it once it answers.
      await vi.waitFor(() => expect(mediaA.sessions.size).toBe(0));
    } finally {
      await d.close();
      await serverA.close();
      await serverB.close();
    }
  });
});
