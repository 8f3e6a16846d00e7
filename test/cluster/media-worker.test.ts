/**
 * One supervised media worker, as real processes: `node src/media-node.ts --supervised` takes ng over its IPC
 * channel (no ng port at all), stops on SIGTERM (SIGKILL when it does not), and MediaWorker restarts it after an
 * unexpected exit with a growing delay, answering 503 meanwhile so calls go elsewhere; commands in flight on a
 * worker that died fail at once; a worker only starved for a while is not killed.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fork } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NgClient } from '../../src/ng/ng-client.ts';
import { WorkerNgTransport } from '../../src/cluster/worker-ng-transport.ts';
import { WorkerProcess, WorkerStartError } from '../../src/cluster/worker-process.ts';
import { ngFromWire, ngToWire } from '../../src/cluster/worker-protocol.ts';
import { MediaWorker, type MediaWorkerEvents } from '../../src/cluster/media-worker.ts';
import { RemoteMediaError } from '../../src/rtp-bridge/remote-media.ts';

vi.setConfig({ testTimeout: 30_000 });

const base = 44000 + 100 * Math.floor(Math.random() * 40);
const ARGS = ['--interface', '127.0.0.1', '--port-min', String(base), '--port-max', String(base + 99), '--timeout', '2.5'];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The next `event` of the worker, with its arguments. */
function next<K extends 'exit' | 'restart'>(worker: MediaWorker, event: K): Promise<MediaWorkerEvents[K]> {
  return new Promise((resolve) => worker.once(event, (...args) => resolve(args)));
}

/** The sockets of `pid` that listen for anyone on the machine: bound UDP sockets and listening TCP ones. */
function listeningSockets(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed while we looked
    }
  }
  const found: string[] = [];
  for (const table of ['udp', 'udp6', 'tcp', 'tcp6']) {
    for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address … st … inode: TCP state 0A is LISTEN; a UDP socket is bound as soon as it is in the table.
      if (f.length > 9 && inodes.has(f[9]!) && (table.startsWith('udp') || f[3] === '0A')) found.push(`${table} ${f[1]}`);
    }
  }
  return found;
}

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
});

describe('WorkerProcess', () => {
  it('forks the media node, drives it with ng over the IPC channel (no ng port opened), and stops it with SIGTERM (exit 0)', async () => {
    const worker = await WorkerProcess.start({ name: 'w', args: ARGS });
    cleanup.push(() => worker.stop(1000));
    const ng = NgClient.over(new WorkerNgTransport(worker), { timeoutMs: 2000 });
    cleanup.push(() => ng.close());
    expect(ng.label).toBe(`ipc:w (pid ${worker.pid})`);
    expect(await ng.ping(2000)).toBeGreaterThanOrEqual(0);
    expect(await ng.request({ command: 'list' })).toMatchObject({ result: 'ok', calls: [] });
    // Nothing another local user could send ng commands to.
    expect(listeningSockets(worker.pid)).toEqual([]);
    expect(await worker.stop(5000)).toEqual({ code: 0, signal: null });
    expect(alive(worker.pid)).toBe(false);
  });

  it('SIGKILLs a worker that does not stop within the grace period', async () => {
    const worker = await WorkerProcess.start({ name: 'w', args: ARGS });
    cleanup.push(() => worker.stop(100));
    // A stopped process cannot act on SIGTERM; only SIGKILL ends it.
    process.kill(worker.pid, 'SIGSTOP');
    expect(await worker.stop(300)).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('rejects with WorkerStartError carrying the worker\'s own complaint when it cannot start', async () => {
    const err = await WorkerProcess.start({ name: 'w', args: [...ARGS, '--codecs', 'PCMU;x'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerStartError);
    expect((err as Error).message).toMatch(/^media worker w exited \(code 2, signal null\) before it was ready: media-node: --codecs "PCMU;x"/);
  });

  it('reports a start-up failure the media plane raises (sent over the IPC channel)', async () => {
    const err = await WorkerProcess.start({ name: 'w', args: ['--interface', '0.0.0.0', '--port-min', String(base), '--port-max', String(base + 99)] }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkerStartError);
    expect((err as Error).message).toMatch(/^media worker w could not start: advertised media address "0\.0\.0\.0"/);
  });
});

describe('MediaWorker', () => {
  async function started(options: Partial<Parameters<typeof MediaWorker.start>[0]> = {}): Promise<MediaWorker> {
    const worker = await MediaWorker.start({
      name: 'worker-1',
      args: ARGS,
      commandTimeoutMs: 1000,
      restartDelayMs: 100,
      stopGraceMs: 2000,
      killAfterMissedPings: 3,
      killAfterSilenceMs: 0,
      ...options,
    });
    cleanup.push(() => worker.close());
    return worker;
  }

  it('restarts a worker that died, with a new process, doubling the delay while it keeps dying', async () => {
    const worker = await started();
    const first = { pid: worker.pid! };
    expect(await worker.ping(1000)).toBeGreaterThanOrEqual(0);

    const exit = next(worker, 'exit');
    process.kill(first.pid, 'SIGKILL');
    const [pid, how, calls, restartInMs] = await exit;
    expect({ pid, how, calls, restartInMs }).toEqual({ pid: first.pid, how: { code: null, signal: 'SIGKILL' }, calls: 0, restartInMs: 100 });
    expect(worker.state).toBe('down');
    // Down: no ping, new calls refused with 503 (the dispatcher places them elsewhere), deletes are no-ops.
    await expect(worker.ping(500)).rejects.toBeInstanceOf(RemoteMediaError);
    const refused = await worker.offer('c1', 't1', 'v=0\r\n', { to: 'plain' }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'MEDIA_NODE_UNAVAILABLE', status: 503 });
    await expect(worker.delete('c1')).resolves.toBeUndefined();
    expect(await worker.query('c1')).toBeUndefined();

    const [newPid] = await next(worker, 'restart');
    expect(newPid).not.toBe(first.pid);
    expect(worker.state).toBe('running');
    expect(await worker.ping(1000)).toBeGreaterThanOrEqual(0);
    expect(await worker.statistics()).toMatchObject({ sessions: 0 });

    // Dying again soon after: the next restart waits twice as long.
    const again = next(worker, 'exit');
    process.kill(newPid, 'SIGKILL');
    expect((await again)[3]).toBe(200);
    await next(worker, 'restart');
  });

  it('kills and restarts a worker that is alive but does not answer, after the missed pings in a row', async () => {
    const worker = await started();
    const pid = worker.pid!;
    process.kill(pid, 'SIGSTOP');
    const exit = next(worker, 'exit');
    for (let i = 0; i < 3; i++) await expect(worker.ping(150)).rejects.toThrow(/no reply to ping|restarting/);
    const [exitedPid, how] = await exit;
    expect({ exitedPid, how }).toEqual({ exitedPid: pid, how: { code: null, signal: 'SIGKILL' } });
    const [newPid] = await next(worker, 'restart');
    expect(newPid).not.toBe(pid);
    expect(await worker.ping(1000)).toBeGreaterThanOrEqual(0);
  });

  it('does not kill a worker that missed the take-out count of pings before the silence limit; kills it after', async () => {
    const worker = await started({ killAfterMissedPings: 3, killAfterSilenceMs: 1500 });
    const pid = worker.pid!;
    const exits: number[] = [];
    worker.on('exit', (p) => exits.push(p));
    // Starved (stopped) for ~0.6 s: 4 pings missed, more than the count, but not silent long enough.
    process.kill(pid, 'SIGSTOP');
    for (let i = 0; i < 4; i++) await expect(worker.ping(150)).rejects.toThrow(/no reply to ping/);
    process.kill(pid, 'SIGCONT');
    expect(await worker.ping(1000)).toBeGreaterThanOrEqual(0);
    expect(exits).toEqual([]);
    expect(worker.pid).toBe(pid);
    // Stopped for good: killed once 1.5 s have passed without a pong.
    process.kill(pid, 'SIGSTOP');
    const stoppedAt = Date.now();
    const exit = next(worker, 'exit');
    while (worker.state === 'running') await worker.ping(150).catch(() => undefined);
    const [exitedPid, how] = await exit;
    expect({ exitedPid, how }).toEqual({ exitedPid: pid, how: { code: null, signal: 'SIGKILL' } });
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(1400);
  });

  it('a command in flight when the worker dies rejects at once (503), not at its 3 s deadline', async () => {
    const worker = await started({ commandTimeoutMs: 3000 });
    const pid = worker.pid!;
    // Stopped: the offer is delivered but never answered.
    process.kill(pid, 'SIGSTOP');
    const offer = worker.offer('c1', 't1', 'v=0\r\n', { to: 'plain' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const query = worker.statistics().then(
      () => undefined,
      (e: unknown) => e,
    );
    await new Promise((r) => setTimeout(r, 100));
    const killedAt = performance.now();
    process.kill(pid, 'SIGKILL');
    const [offerErr, queryErr] = await Promise.all([offer, query]);
    const ms = performance.now() - killedAt;
    expect(offerErr).toMatchObject({ code: 'MEDIA_NODE_UNAVAILABLE', status: 503 });
    expect((offerErr as Error).message).toMatch(/aborted: media worker worker-1 \(pid \d+\) exited/);
    expect(queryErr).toMatchObject({ code: 'MEDIA_NODE_UNAVAILABLE' });
    expect(ms).toBeLessThan(500);
    console.info(`[media-worker] commands in flight rejected ${ms.toFixed(0)} ms after SIGKILL`);
  });

  it('ignores SIGINT (a Ctrl-C for the whole process group: the gateway stops its workers itself)', async () => {
    const worker = await started();
    const pid = worker.pid!;
    process.kill(pid, 'SIGINT');
    await new Promise((r) => setTimeout(r, 300));
    expect(await worker.ping(1000)).toBeGreaterThanOrEqual(0);
    expect(worker.pid).toBe(pid);
  });

  it('after retire() (the gateway shutting down) a worker that exits is not restarted', async () => {
    const worker = await started();
    worker.retire();
    const exit = next(worker, 'exit');
    const restarts: number[] = [];
    worker.on('restart', (p) => restarts.push(p));
    process.kill(worker.pid!, 'SIGTERM');
    const [, how, , restartInMs] = await exit;
    expect(how).toEqual({ code: 0, signal: null });
    expect(restartInMs).toBeUndefined();
    await new Promise((r) => setTimeout(r, 400));
    expect(restarts).toEqual([]);
    expect(worker.state).toBe('down');
  });

  it('close() while a restart is pending leaves no process and starts none', async () => {
    const worker = await started();
    const pid = worker.pid!;
    const exit = next(worker, 'exit');
    process.kill(pid, 'SIGKILL');
    await exit;
    const restarts: number[] = [];
    worker.on('restart', (p) => restarts.push(p));
    await worker.close();
    await new Promise((r) => setTimeout(r, 400));
    expect(restarts).toEqual([]);
    expect(worker.state).toBe('closed');
  });

  it('close() stops the running process', async () => {
    const worker = await started();
    const pid = worker.pid!;
    await worker.close();
    expect(alive(pid)).toBe(false);
    await expect(worker.ping(500)).rejects.toMatchObject({ code: 'MEDIA_NODE_UNAVAILABLE' });
  });
});

describe('src/media-node.ts --supervised', () => {
  const script = fileURLToPath(new URL('../../src/media-node.ts', import.meta.url));
  const start = () => {
    const child = fork(script, ['--supervised', ...ARGS], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    const exited = new Promise<[number | null, string | null]>((resolve) => child.once('exit', (code, signal) => resolve([code, signal])));
    cleanup.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    });
    return { child, exited };
  };

  it('exits when its channel closes while it is still starting (a gateway that died at once)', async () => {
    const { child, exited } = start();
    child.disconnect();
    expect(await exited).toEqual([1, null]);
  });

  it('reports ready, answers ng on the channel and ignores what is not a message of ours, then stops cleanly (exit 0) when the channel closes', async () => {
    const { child, exited } = start();
    const messages: unknown[] = [];
    child.on('message', (m) => messages.push(m));
    const ready = await new Promise<unknown>((resolve) => child.once('message', resolve));
    expect(ready).toEqual({ type: 'ready' });
    child.send({ type: 'bogus' });
    child.send({ type: 'ng', data: 42 });
    child.send({ type: 'ng', data: ngToWire(Buffer.from('k_1 d7:command4:pinge')) });
    const reply = await new Promise<unknown>((resolve) => child.once('message', resolve));
    expect(reply).toMatchObject({ type: 'ng' });
    expect(ngFromWire((reply as { data: string }).data).toString()).toBe('k_1 d6:result4:ponge');
    expect(messages).toHaveLength(2);
    child.disconnect();
    expect(await exited).toEqual([0, null]);
  });
});
