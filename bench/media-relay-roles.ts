/**
 * The child processes of bench/media-relay.bench.ts, each driven over IPC by small request/reply messages:
 *   gateway   — the MediaService under test (MediaApi calls, plus gc/exit);
 *   trunk     — N UDP sockets that echo every packet back to where it came from;
 *   generator — N light WebRTC clients (light-webrtc-client.ts) paced at 50 packets/s each.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import type { MediaService } from '../src/rtp-bridge/media-service.ts';
import { LightWebRtcClient } from './light-webrtc-client.ts';

export interface Request {
  readonly id: number;
  readonly method: string;
  readonly args: unknown[];
}

export interface Reply {
  readonly id: number;
  readonly result?: unknown;
  readonly error?: string;
}

type Handler = (...args: never[]) => unknown;

function serve(handlers: Record<string, Handler>): void {
  process.on('message', (m: Request) => {
    const handler = handlers[m.method];
    Promise.resolve()
      .then(() => {
        if (handler === undefined) throw new Error(`unknown method ${m.method}`);
        return (handler as (...args: unknown[]) => unknown)(...m.args);
      })
      .then(
        (result) => process.send!({ id: m.id, result } satisfies Reply),
        (err: unknown) => process.send!({ id: m.id, error: err instanceof Error ? err.message : String(err) } satisfies Reply),
      );
  });
  process.on('disconnect', () => process.exit(0));
}

/** Packets a paced client may send at once to catch up (two frames). */
const MAX_CATCH_UP = 2;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function gatewayRole(): void {
  let media: MediaService | undefined;
  let profiler: import('node:inspector/promises').Session | undefined;
  const m = (): MediaService => {
    if (media === undefined) throw new Error('gateway not started');
    return media;
  };
  serve({
    start: async (options: { portMin: number; portMax: number }) => {
      const { MediaService } = await import('../src/rtp-bridge/media-service.ts');
      media = await MediaService.create({ bindAddress: '127.0.0.1', portMin: options.portMin, portMax: options.portMax });
      return process.pid;
    },
    offer: (callId: string, tag: string, sdp: string, flags: { to: 'plain' | 'webrtc' }) => m().offer(callId, tag, sdp, flags),
    answer: (callId: string, from: string, to: string, sdp: string) => m().answer(callId, from, to, sdp),
    statistics: () => m().statistics(),
    /** Packet counters summed per leg kind over every call: where the packets that went missing were lost. */
    legTotals: async () => {
      const totals: Record<string, { packetsIn: number; packetsOut: number; dropped: number }> = {};
      for (const callId of await m().list()) {
        for (const leg of (await m().query(callId))?.legs ?? []) {
          const t = (totals[leg.kind] ??= { packetsIn: 0, packetsOut: 0, dropped: 0 });
          t.packetsIn += leg.packetsIn;
          t.packetsOut += leg.packetsOut;
          t.dropped += leg.dropped;
        }
      }
      return totals;
    },
    close: () => m().close(),
    gc: () => (globalThis as { gc?: () => void }).gc?.(),
    memory: () => process.memoryUsage(),
    heapSnapshot: async (file: string) => (await import('node:v8')).writeHeapSnapshot(file),
    /** CPU profile of a window (the inspector's sampling profiler), written as a .cpuprofile file. */
    profileStart: async () => {
      const inspector = await import('node:inspector/promises');
      profiler = new inspector.Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
    },
    profileStop: async (file: string) => {
      if (profiler === undefined) throw new Error('no profile running');
      const { profile } = await profiler.post('Profiler.stop');
      profiler.disconnect();
      profiler = undefined;
      (await import('node:fs')).writeFileSync(file, JSON.stringify(profile));
    },
    exit: () => {
      setImmediate(() => process.exit(0));
    },
  });
}

function trunkRole(): void {
  const sockets: dgram.Socket[] = [];
  serve({
    start: async (n: number) => {
      for (let i = 0; i < n; i++) {
        const s = dgram.createSocket('udp4');
        s.bind(0, '127.0.0.1');
        await once(s, 'listening');
        s.setRecvBufferSize(256 * 1024);
        s.setSendBufferSize(256 * 1024);
        s.on('message', (msg, rinfo) => s.send(msg, rinfo.port, rinfo.address));
        sockets.push(s);
      }
      return sockets.map((s) => s.address().port);
    },
    exit: () => {
      setImmediate(() => process.exit(0));
    },
  });
}

function generatorRole(): void {
  const clients: LightWebRtcClient[] = [];
  let timer: NodeJS.Timeout | undefined;
  let skipped = 0;
  serve({
    start: async (n: number) => {
      const { createDtlsCertificate } = await import('../src/webrtc/certificate.ts');
      const certificate = await createDtlsCertificate();
      for (let i = 0; i < n; i++) clients.push(await LightWebRtcClient.create(certificate));
      return clients.map((c) => c.offer());
    },
    /** Accepts the answers in batches (as calls arrive over time, not all in one millisecond). */
    connect: async (answers: string[]) => {
      for (let i = 0; i < clients.length; i += 20) {
        for (let j = i; j < Math.min(i + 20, clients.length); j++) clients[j]!.accept(answers[j]!);
        await sleep(100);
      }
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && clients.some((c) => c.state !== 'connected' && c.state !== 'failed')) await sleep(50);
      return clients.filter((c) => c.state === 'connected').length;
    },
    /** Time-based pacing: each client is owed floor(elapsed × 50) packets, phases spread over the 20 ms. */
    media: (on: boolean) => {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      if (!on) return;
      const due = new Float64Array(clients.length);
      const t0 = performance.now();
      timer = setInterval(() => {
        const elapsed = performance.now() - t0;
        for (let i = 0; i < clients.length; i++) {
          const owed = Math.floor((elapsed + (20 * i) / clients.length) / 20);
          // A client that fell behind (this process starved of CPU) skips what it missed instead of bursting it,
          // as a browser does: late audio is not sent late.
          if (owed - due[i]! > MAX_CATCH_UP) {
            skipped += owed - due[i]! - MAX_CATCH_UP;
            due[i] = owed - MAX_CATCH_UP;
          }
          while (due[i]! < owed) {
            due[i] = due[i]! + 1;
            clients[i]!.sendMedia();
          }
        }
      }, 2);
    },
    counts: () => {
      let sent = 0;
      let received = 0;
      let srtpFailures = 0;
      for (const c of clients) {
        sent += c.sent;
        received += c.received;
        srtpFailures += c.srtpFailures;
      }
      return { sent, received, srtpFailures, skipped };
    },
    exit: () => {
      for (const c of clients) c.close();
      setImmediate(() => process.exit(0));
    },
  });
}

export async function runRole(role: string): Promise<void> {
  if (role === 'gateway') gatewayRole();
  else if (role === 'trunk') trunkRole();
  else if (role === 'generator') generatorRole();
  else throw new Error(`unknown role ${role}`);
}
