/**
 * `media.workers: 2`: the gateway forks two media processes (src/media-node.ts --supervised) and keeps signalling
 * in its own. A browser-like phone calls the built-in echo service: calls spread over both workers and their audio
 * comes back. One worker is killed (SIGKILL): its calls end at once on both SIP legs, the others keep their audio,
 * the worker is restarted and takes calls again. After close() no worker process is left; and a gateway that is
 * itself killed takes its workers with it (they exit when their IPC channel closes). A call that goes silent ends
 * on the worker's media timeout, told over the channel at once, as it does without workers; so are RFC 4733 digits
 * the worker detects (`dtmf`) and a WebRTC leg that fails its DTLS fingerprint check (`failed`: the call ends).
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfig } from '../../src/config/load.ts';
import { startGateway, StartupError, type Gateway } from '../../src/gateway.ts';
import { MediaDispatcher } from '../../src/rtp-bridge/media-dispatcher.ts';
import type { OutgoingCall } from '../support/outgoing-call.ts';
import { audioFlows, dispatcherOf, echoCall, type LiveCall } from '../support/dispatched-echo.ts';
import { TestPhone } from '../support/test-phone.ts';
import { freePort, waitFor } from './harness.ts';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const ROOT = path.resolve(import.meta.dirname, '../..');

interface Proc {
  pid: number;
  args: string[];
}

/** Live (not zombie) processes whose parent is `ppid`, read from /proc. */
function childrenOf(ppid: number): Proc[] {
  const out: Proc[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces, so read after the last ')'.
      const [state, parent] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(parent) !== ppid || state === 'Z') continue;
      out.push({ pid: Number(entry), args: readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean) });
    } catch {
      // gone while we looked
    }
  }
  return out;
}

const workersOf = (ppid: number): Proc[] => childrenOf(ppid).filter((p) => p.args.some((a) => a.endsWith('media-node.ts')));
const flag = (p: Proc, name: string): string | undefined => p.args[p.args.indexOf(name) + 1];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

async function configYaml(mediaMin: number, extra = '', timeout = 30): Promise<string> {
  return `
http: { host: 127.0.0.1, port: 0 }
sip:
  listeners:
    - { protocol: udp, host: 127.0.0.1, port: ${await freePort()} }
media:
  bindAddress: 127.0.0.1
  workers: 2
  ports: { min: ${mediaMin}, max: ${mediaMin + 399} }
  timeout: ${timeout}
${extra}services: { enabled: true, host: 127.0.0.1, port: ${await freePort()} }
limits: { callsPerMinutePerUser: 100 }
users:
  - { name: alice, password: demo, maxCalls: 20 }
logLevel: silent
`;
}


describe('gateway with media.workers: 2', () => {
  let gw: Gateway;
  let phone: TestPhone;
  const mediaMin = 41000 + 400 * Math.floor(Math.random() * 20);
  const servicesEnded: Array<[string, string]> = [];

  beforeAll(async () => {
    gw = await startGateway(parseConfig(await configYaml(mediaMin), 'media-workers test', {}));
    gw.services!.on('call-ended', (callId, reason) => servicesEnded.push([callId, reason]));
    phone = await TestPhone.connect({ url: gw.urls.ws, user: 'alice', password: 'demo', domain: '127.0.0.1' });
    await phone.register();
  });

  afterAll(async () => {
    await phone?.close();
    await gw?.close();
  });

  const dispatcher = (): MediaDispatcher => dispatcherOf(gw);



  it('forks two media processes, each with its own half of media.ports, and no media in the gateway process', () => {
    const workers = workersOf(process.pid).sort((a, b) => Number(flag(a, '--port-min')) - Number(flag(b, '--port-min')));
    expect(workers).toHaveLength(2);
    expect(workers.map((w) => [flag(w, '--port-min'), flag(w, '--port-max')])).toEqual([
      [String(mediaMin), String(mediaMin + 199)],
      [String(mediaMin + 200), String(mediaMin + 399)],
    ]);
    for (const w of workers) {
      // ng goes over the IPC channel: no ng port for another local user to send commands to.
      expect(w.args.filter((a) => a.startsWith('--listen'))).toEqual([]);
      expect(flag(w, '--timeout-ms')).toBe('30000');
      expect(flag(w, '--interface')).toBe('127.0.0.1');
      expect(w.args).toContain('--supervised');
    }
    expect(gw.mediaWorkers.map((w) => [w.name, w.state, w.pid])).toEqual([
      ['worker-1', 'running', workers[0]!.pid],
      ['worker-2', 'running', workers[1]!.pid],
    ]);
    expect(dispatcher().status().map((s) => [s.name, s.state])).toEqual([
      ['worker-1', 'up'],
      ['worker-2', 'up'],
    ]);
  });

  it('spreads calls over both workers with audio; a killed worker ends its calls on both legs at once and is restarted', async () => {
    const calls: LiveCall[] = [];
    for (let i = 0; i < 4; i++) calls.push(await echoCall(gw, phone));
    expect(calls.map((c) => c.node).sort()).toEqual(['worker-1', 'worker-1', 'worker-2', 'worker-2']);
    for (const c of calls) await audioFlows(c);

    // worker-1 has the lower half of the range.
    const victim = workersOf(process.pid).sort((a, b) => Number(flag(a, '--port-min')) - Number(flag(b, '--port-min')))[0]!;
    const onVictim = calls.filter((c) => c.node === 'worker-1');
    const others = calls.filter((c) => c.node === 'worker-2');
    const servicesBefore = servicesEnded.length;
    const killedAt = Date.now();
    process.kill(victim.pid, 'SIGKILL');

    const ends = await Promise.all(onVictim.map((c) => c.call.ended));
    const endedMs = Date.now() - killedAt;
    expect(ends.map((e) => e.by)).toEqual(['remote', 'remote']);
    for (const c of onVictim) {
      const bye = phone.trace.find((t) => t.dir === 'in' && t.msg.type === 'request' && t.msg.method === 'BYE' && t.text.includes(c.call.callId));
      expect(bye, `BYE from the gateway for ${c.call.callId}`).toBeDefined();
    }
    await waitFor(() => servicesEnded.length >= servicesBefore + 2, 'the services peer ending the two calls', 5000);
    expect(servicesEnded.slice(servicesBefore).map(([, reason]) => reason)).toEqual(['bye', 'bye']);
    // The exit is seen at once, not after the missed pings (3 × 1 s) that a remote node would need.
    expect(endedMs).toBeLessThan(1500);

    for (const c of others) {
      expect(c.call.state).toBe('confirmed');
      await audioFlows(c);
    }

    // Restarted: a new process with the same slice, and it takes calls again.
    const replacement = await waitFor(
      () => workersOf(process.pid).find((w) => w.pid !== victim.pid && flag(w, '--port-min') === flag(victim, '--port-min')),
      'a new worker-1 process',
      10_000,
    );
    expect(alive(victim.pid)).toBe(false);
    const worker1 = gw.mediaWorkers.find((w) => w.name === 'worker-1')!;
    await waitFor(() => worker1.state === 'running' && worker1.pid === replacement.pid, 'worker-1 running again', 10_000);
    const restartedMs = Date.now() - killedAt;
    // If the restart took longer than the missed pings allow, the dispatcher took worker-1 out: the next ping brings it back.
    await waitFor(() => dispatcher().status().find((s) => s.name === 'worker-1')?.state === 'up', 'worker-1 back in rotation', 5000);
    // The dispatcher also weighs the sessions a node last reported (asked every 5 s): wait until it has heard the
    // new process's 0, so the placement below is decided by load alone.
    await waitFor(() => (dispatcher().status().find((s) => s.name === 'worker-1')?.reportedSessions ?? 0) === 0, 'worker-1 reporting no sessions', 8000);
    const fresh = [await echoCall(gw, phone), await echoCall(gw, phone)];
    // worker-1 is empty, worker-2 carries two calls: the least-loaded rule sends both new calls to worker-1.
    expect(fresh.map((c) => c.node)).toEqual(['worker-1', 'worker-1']);
    for (const c of fresh) await audioFlows(c);

    for (const c of [...others, ...fresh]) {
      c.sending.stop();
      await c.call.hangup();
      await c.call.ended;
    }
    await waitFor(async () => (await gw.media.statistics()).sessions === 0, 'no media session left in the workers', 5000);
    expect(await gw.media.list()).toEqual([]);
    console.info(`[media-workers] worker-1 SIGKILL → its 2 calls ended on both legs after ${endedMs} ms; restarted as pid ${replacement.pid} after ${restartedMs} ms`);
  });

  it('close() ends the calls with BYE, then stops every worker process', async () => {
    const live = await echoCall(gw, phone);
    const pids = workersOf(process.pid).map((w) => w.pid);
    expect(pids).toHaveLength(2);
    await gw.close();
    expect((await live.call.ended).by).toBe('remote');
    expect(pids.filter(alive)).toEqual([]);
    expect(workersOf(process.pid)).toEqual([]);
    expect(gw.mediaWorkers.map((w) => w.state)).toEqual(['closed', 'closed']);
  });
});

describe('media timeout with media.workers', () => {
  it('a call that goes silent ends on the media timeout (BYE), as in-process — not as a media failure found later', async () => {
    const gw = await startGateway(parseConfig(await configYaml(41000 + 400 * Math.floor(Math.random() * 20), '', 1.5), 'media-workers timeout test', {}));
    const phone = await TestPhone.connect({ url: gw.urls.ws, user: 'alice', password: 'demo', domain: '127.0.0.1' });
    try {
      await phone.register();
      const events: string[] = [];
      gw.media.on('timeout', (callId, tag) => events.push(`timeout ${callId} ${tag}`));
      gw.media.on('failed', (callId, tag, reason) => events.push(`failed ${callId} ${tag} ${reason}`));
      const call = await phone.call('echo');
      const sending = call.startSending({ pt: 0, everyMs: 20 });
      await call.waitForAudio((a) => a.markers.some((m) => m.stream === sending.stream));
      const [mediaId] = await gw.media.list();
      expect(mediaId).toBeDefined();
      // Audio keeps the call up past the timeout…
      await new Promise((r) => setTimeout(r, 2000));
      expect(call.state).toBe('confirmed');
      // … silence ends it: the worker's timeout reaches the B2BUA over the channel at once.
      const stoppedAt = Date.now();
      sending.stop();
      const ended = await call.ended;
      const afterMs = Date.now() - stoppedAt;
      expect(ended.by).toBe('remote');
      const bye = phone.trace.find((t) => t.dir === 'in' && t.msg.type === 'request' && t.msg.method === 'BYE' && t.text.includes(call.callId));
      expect(bye, 'BYE from the gateway').toBeDefined();
      expect(events.length).toBeGreaterThan(0);
      expect(events.every((e) => e.startsWith(`timeout ${mediaId} `)), events.join('; ')).toBe(true);
      expect(afterMs).toBeGreaterThan(1000);
      // The timeout (1.5 s, swept every 375 ms), not the 5 s reconcile that found a vanished call before.
      expect(afterMs).toBeLessThan(3500);
      await waitFor(async () => (await gw.media.list()).length === 0, 'the call gone from the worker', 3000);
      console.info(`[media-workers] silent call ended by the worker's media timeout ${afterMs} ms after its audio stopped (media.timeout 1.5 s)`);
    } finally {
      await phone.close();
      await gw.close();
    }
  });
});

/**
 * The RFC 4733 §2.3 event codes a call received. The meter keeps payloads without their type; a telephone-event
 * payload is 4 bytes, an audio frame 160.
 */
function eventsHeard(call: OutgoingCall): number[] {
  return call.audio.payloads.filter((p) => p.length === 4).map((p) => p[0]!);
}

describe('DTMF and failed legs with media.workers: told over the channel as in-process', () => {
  let gw: Gateway;
  let phone: TestPhone;
  const events: string[] = [];

  beforeAll(async () => {
    const yaml = (await configYaml(41000 + 400 * Math.floor(Math.random() * 20))).replace('workers: 2', 'workers: 1');
    gw = await startGateway(parseConfig(yaml, 'media-workers events test', {}));
    gw.media.on('dtmf', (callId, tag, digit) => events.push(`dtmf ${callId} ${tag} ${digit}`));
    gw.media.on('failed', (callId, tag, reason) => events.push(`failed ${callId} ${tag} ${reason}`));
    gw.media.on('timeout', (callId, tag) => events.push(`timeout ${callId} ${tag}`));
    phone = await TestPhone.connect({ url: gw.urls.ws, user: 'alice', password: 'demo', domain: '127.0.0.1' });
    await phone.register();
  });

  afterAll(async () => {
    await phone?.close();
    await gw?.close();
  });

  it('RFC 4733 events arriving from the trunk side are detected in the worker and reported as dtmf; the browser gets them as RFC 4733', async () => {
    events.length = 0;
    const call = await phone.call('echo');
    const sending = call.startSending({ pt: 0, everyMs: 20 });
    onTestFinished(async () => {
      sending.stop();
      if (call.state === 'confirmed') await call.hangup();
    });
    await call.waitForAudio((a) => a.markers.some((m) => m.stream === sending.stream));
    const [mediaId] = await gw.media.list();
    expect(mediaId).toBeDefined();
    const plainTag = (await gw.media.query(mediaId!))?.legs.find((l) => l.kind === 'plain')?.tag;
    expect(plainTag).toBeDefined();

    // The browser's INFO is played by the worker towards the echo service as RFC 4733; the echo service sends the
    // events back, so they reach the worker from the plain (trunk) side, where its relay detects them (§2.5.2:
    // one digit per event, however many packets and end retransmissions carry it).
    expect((await call.sendInfoDtmf('5')).status).toBe(200);
    await waitFor(() => events.length > 0, 'a dtmf event from the worker', 3000);
    // The worker relays the events to the browser on its telephone-event payload type, as in-process.
    await call.waitForAudio((a) => a.payloadTypes.includes(126), 3000);
    expect(eventsHeard(call)).toContain(5);
    expect((await call.sendInfoDtmf('#')).status).toBe(200);
    await waitFor(() => events.length > 1, 'a second dtmf event', 3000);
    expect(events).toEqual([`dtmf ${mediaId} ${plainTag} 5`, `dtmf ${mediaId} ${plainTag} #`]);
    expect(eventsHeard(call)).toContain(11);

    sending.stop();
    await call.hangup();
    await waitFor(async () => (await gw.media.list()).length === 0, 'the call gone from the worker', 3000);
  });

  it('a DTLS fingerprint mismatch from the browser fails its leg in the worker: reported as failed, the call ends with BYE at once', async () => {
    events.length = 0;
    const before = new Set(await gw.media.list());
    // One byte of the browser's certificate fingerprint changed: its real certificate no longer matches (RFC 8122 §5).
    const mangleOffer = (sdp: string): string =>
      sdp.replace(/(a=fingerprint:sha-256 )([0-9A-F]{2})/, (_m, p: string, byte: string) => p + (byte === 'AA' ? 'BB' : 'AA'));
    const call = await phone.call('echo', { mangleOffer });
    const answeredAt = Date.now();
    const ended = await call.ended;
    const afterMs = Date.now() - answeredAt;
    expect(ended.by).toBe('remote');
    const bye = phone.trace.find((t) => t.dir === 'in' && t.msg.type === 'request' && t.msg.method === 'BYE' && t.text.includes(call.callId));
    expect(bye, 'BYE from the gateway').toBeDefined();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatch(/^failed \S+ \S+ DTLS_FINGERPRINT_MISMATCH/);
    // Told at once over the channel: not left up until the media timeout (30 s) or a reconcile.
    expect(afterMs).toBeLessThan(5000);
    await waitFor(async () => (await gw.media.list()).every((id) => before.has(id)), 'the failed call gone from the worker', 5000);
    console.info(`[media-workers] DTLS fingerprint mismatch: call ended ${afterMs} ms after its 2xx (${events[0]})`);
  });
});

describe('media.workers start-up and orphans', () => {
  it('fails start-up with a StartupError naming the worker and the reason when a worker cannot start', async () => {
    // 0.0.0.0 without advertisedAddress is refused by the media plane (nothing is bound to 0.0.0.0).
    const yaml = (await configYaml(41000)).replace('bindAddress: 127.0.0.1', 'bindAddress: 0.0.0.0');
    const err = await startGateway(parseConfig(yaml, 'x', {})).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StartupError);
    expect((err as Error).message).toMatch(/^media worker worker-\d could not start: advertised media address "0\.0\.0\.0".*\(media\.workers: 2\)$/);
    await waitFor(() => workersOf(process.pid).length === 0, 'no worker left after the failed start', 5000);
  });

  it('workers exit when the gateway process is killed (SIGKILL): no orphans', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'media-workers-'));
    try {
      const config = path.join(dir, 'gateway.yaml');
      writeFileSync(config, (await configYaml(41000 + 400 * Math.floor(Math.random() * 20))));
      // One command, as `npm start -- --config …` runs it.
      const gateway = spawn(process.execPath, ['src/main.ts', '--config', config], { cwd: ROOT, stdio: 'ignore', env: { ...process.env, LOG_LEVEL: 'silent' } });
      const exited = new Promise((resolve) => gateway.once('exit', resolve));
      try {
        const workers = await waitFor(() => {
          const found = workersOf(gateway.pid!);
          return found.length === 2 ? found : undefined;
        }, 'two workers under the gateway', 20_000);
        gateway.kill('SIGKILL');
        await exited;
        await waitFor(() => workers.every((w) => !alive(w.pid)), 'the workers exiting after their gateway died', 8000);
      } finally {
        if (gateway.exitCode === null && gateway.signalCode === null) gateway.kill('SIGKILL');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
