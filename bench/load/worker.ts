/**
 * One load-generator process (the driver forks W of them): phones registered over SIP/WS (bench/load/phone.ts),
 * calls placed at a controlled rate, and per call a light WebRTC client (bench/light-webrtc-client.ts: real ICE,
 * DTLS-SRTP, SRTP) sending 50 packets/s of 172-byte PCMU once its DTLS handshake is done, paced and timed by
 * bench/load/media-clock.ts. Driven over IPC (bench/load/ipc.ts).
 */
import { createDtlsCertificate, type DtlsCertificate } from '../../src/webrtc/certificate.ts';
import { LightWebRtcClient } from '../light-webrtc-client.ts';
import { MediaClock, type TimedCall, type WindowCounts } from './media-clock.ts';
import { Phone, type CallTimes, type PhoneCall } from './phone.ts';
import { serve } from './ipc.ts';

export interface WorkerInit {
  readonly index: number;
  readonly wsUrl: string;
  readonly domain: string;
  readonly password: string;
  readonly probePort: number;
  readonly probes: number;
  readonly callsPerPhone: number;
}

/** [call number, setup µs (authenticated INVITE → 200), challenge µs (INVITE → 407), media µs (200 → DTLS up)]. */
export type SetupSample = readonly [number, number, number, number];

export interface AddCallsResult {
  readonly placed: number;
  readonly answered: number;
  readonly connected: number;
  /** Final statuses of failed setups ('0' timeout, '-1' transport closed), and media failures by kind. */
  readonly failures: Record<string, number>;
  /** Time from the first INVITE to the last one, ms (the offered rate is placed / this). */
  readonly placingMs: number;
  /** Time from the first INVITE to the last 200, ms (the completed rate is answered / this). */
  readonly lastAnswerMs: number;
  /** Time from the first INVITE to the last call settled (DTLS up or failed), ms. */
  readonly settleMs: number;
  readonly samples: readonly SetupSample[];
}

export interface WindowResult extends WindowCounts {
  readonly cpuMs: number;
  readonly elapsedMs: number;
}

interface LoadCall {
  readonly number: number;
  readonly timed: TimedCall;
  readonly phone: Phone;
  phoneCall: PhoneCall | undefined;
}

let init: WorkerInit;
let certificate: DtlsCertificate;
let clock: MediaClock;
const phones: Phone[] = [];
const calls: LoadCall[] = [];
let nextNumber = 0;

async function start(options: WorkerInit): Promise<number> {
  init = options;
  certificate = await createDtlsCertificate();
  clock = new MediaClock(options.probePort);
  await clock.addProbes(options.probes, 0x50000000 + options.index * 1000);
  return process.pid;
}

/**
 * Opens one WebSocket per user and registers it, `parallel` at a time. A phone that cannot connect or register
 * (an overloaded gateway) is left out and counted: its calls are then not placed (counted as failures).
 */
async function addPhones(users: readonly string[], parallel = 20): Promise<{ registered: number; failed: number; error: string | undefined; ms: number }> {
  const began = performance.now();
  let next = 0;
  let registered = 0;
  let failed = 0;
  let error: string | undefined;
  const one = async (): Promise<void> => {
    while (next < users.length) {
      const user = users[next++]!;
      try {
        const phone = await Phone.connect(init.wsUrl, user, init.domain, init.password);
        try {
          await phone.register();
        } catch (err) {
          await phone.close();
          throw err;
        }
        phones.push(phone);
        registered++;
      } catch (err) {
        failed++;
        error ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, users.length) }, one));
  return { registered, failed, error, ms: performance.now() - began };
}

function freePhone(): Phone | undefined {
  let best: Phone | undefined;
  for (const p of phones) if (p.activeCalls < init.callsPerPhone && (best === undefined || p.activeCalls < best.activeCalls)) best = p;
  return best;
}

/**
 * Places `count` calls at `rate` per second (the clients' sockets are bound first, as a browser gathers before
 * it sends the INVITE), then waits until each is answered and its DTLS is up, or failed (at most `settleMs`).
 */
async function addCalls(count: number, rate: number, settleMs = 60_000): Promise<AddCallsResult> {
  const clients: LightWebRtcClient[] = [];
  for (let i = 0; i < count; i++) clients.push(await LightWebRtcClient.create(certificate));
  const failures: Record<string, number> = {};
  const fail = (why: string): void => {
    failures[why] = (failures[why] ?? 0) + 1;
  };
  const mine: LoadCall[] = [];
  let answered = 0;
  let lastAnswerAt = 0;
  const began = performance.now();
  let lastPlaced = began;
  const place = (client: LightWebRtcClient): void => {
    const phone = freePhone();
    if (phone === undefined) {
      fail('not placed: no registered phone with a free line');
      client.close();
      return;
    }
    const number = 700_000_000 + init.index * 1_000_000 + nextNumber++;
    const timed = clock.add(client);
    const call: LoadCall = { number, timed, phone, phoneCall: undefined };
    calls.push(call);
    mine.push(call);
    call.phoneCall = phone.call(String(number), client.offer(), {
      onAnswer: (sdp: string, times: CallTimes) => {
        answered++;
        lastAnswerAt = times.answeredAt;
        timed.answeredAt = times.answeredAt;
        timed.sample = [number, Math.round((times.answeredAt - times.authInviteAt) * 1000), Math.round((times.challengedAt - times.inviteAt) * 1000), -1];
        try {
          client.accept(sdp);
          clock.connecting(timed);
        } catch {
          fail('answer SDP unusable');
          timed.state = 'ended';
        }
      },
      onFail: (status: number) => {
        fail(String(status));
        timed.state = 'ended';
        client.close();
      },
      onRemoteEnd: () => {
        clock.dropped(timed);
        client.close();
      },
    });
  };
  // Time-based schedule on its own 1 ms timer: call k goes out at began + k / rate.
  await new Promise<void>((resolve) => {
    let placed = 0;
    const timer = setInterval(() => {
      const due = Math.min(count, Math.floor(((performance.now() - began) * rate) / 1000) + 1);
      while (placed < due) {
        place(clients[placed++]!);
        lastPlaced = performance.now();
      }
      if (placed >= count) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  const placingMs = lastPlaced - began;
  const deadline = performance.now() + settleMs;
  const open = (): number => mine.filter((c) => c.timed.state === 'setup' || c.timed.state === 'connecting').length;
  while (open() > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  let connected = 0;
  for (const c of mine) {
    if (c.timed.state === 'media') connected++;
    else if (c.timed.state === 'connecting') fail(c.timed.client.state === 'failed' ? 'ICE/DTLS failed' : 'DTLS not up in time');
    else if (c.timed.state === 'setup') fail('no answer in time');
  }
  return {
    placed: mine.length,
    answered,
    connected,
    failures,
    placingMs,
    lastAnswerMs: lastAnswerAt === 0 ? Number.NaN : lastAnswerAt - began,
    settleMs: performance.now() - began,
    samples: mine.flatMap((c) => (c.timed.sample === undefined ? [] : [c.timed.sample as SetupSample])),
  };
}

let windowCpu: NodeJS.CpuUsage | undefined;
let windowAt = 0;

function windowStart(): void {
  clock.windowStart();
  windowCpu = process.cpuUsage();
  windowAt = performance.now();
}

async function windowStop(): Promise<WindowResult> {
  const cpu = process.cpuUsage(windowCpu);
  const elapsedMs = performance.now() - windowAt;
  const counts = await clock.windowStop();
  return { ...counts, cpuMs: (cpu.user + cpu.system) / 1000, elapsedMs };
}

/** BYE for every call at `rate` per second, then the WebSockets closed. */
async function hangupAll(rate: number): Promise<{ ended: number }> {
  const up = calls.filter((c) => c.phoneCall !== undefined && c.phoneCall.state === 'confirmed');
  const began = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < up.length; i++) {
    const wait = began + (i * 1000) / rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const c = up[i]!;
    c.timed.state = 'ended';
    pending.push(c.phone.hangup(c.phoneCall!).finally(() => c.timed.client.close()));
  }
  await Promise.all(pending);
  for (const c of calls) {
    if (c.timed.state === 'ended') continue;
    c.timed.state = 'ended';
    c.timed.client.close();
  }
  await Promise.all(phones.map((p) => p.close()));
  return { ended: up.length };
}

function status(): { phones: number; calls: number; media: number; connecting: number; unexpected: number } {
  return {
    phones: phones.length,
    calls: calls.filter((c) => c.timed.state !== 'ended').length,
    media: clock.mediaCalls,
    connecting: clock.connectingCalls,
    unexpected: phones.reduce((n, p) => n + p.unexpected, 0),
  };
}

serve({ start, addPhones, addCalls, windowStart, windowStop, hangupAll, status });
