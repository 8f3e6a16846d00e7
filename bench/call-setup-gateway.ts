/**
 * The systems under test of the call-setup benchmark, each in its own process so its CPU (utime + stime from
 * /proc/<pid>/stat) and memory (VmRSS) are its own:
 *
 *   gateway — the real entry point, `node src/main.ts --config <tmp>.yaml`, logging at the level asked (default
 *             `info`, what production runs) into a file, as it would into journald or a log shipper;
 *   relay   — bench/call-setup-relay.ts, the floor: a Node process that forwards the same SIP bytes between the
 *             trunk's UDP and the agents' WebSockets without understanding them.
 *
 * The gateway config: one trunk `bench` whose allowedSources is 127.0.0.1, N users `agent0…` with a password,
 * and one inbound route per user (DID 9000+i → agent i); no built-in services (they are not on this path).
 */
import { execSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import dgram from 'node:dgram';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { memoryAfterGc, type MemorySample } from './inspector-memory.ts';
import { waitForLine, waitForTcp } from './gateway-startup.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const NODE = process.execPath;

export interface SystemUnderTest {
  readonly kind: 'gateway' | 'relay';
  readonly pid: number;
  /** Where the trunk sends (SIP/UDP). */
  readonly sip: { readonly host: string; readonly port: number };
  /** Where the agents connect (SIP over WebSocket). */
  readonly wsUrl: string;
  /** Whether agents must REGISTER (the relay routes without a registrar). */
  readonly register: boolean;
  /** Stops the process (SIGTERM: the gateway shuts down gracefully and writes its --cpu-prof). */
  stop(): Promise<void>;
  /** Log lines at warn or above, by message (gateway only). */
  logProblems(): Map<string, number>;
  /** Lines and bytes the gateway has logged so far (gateway only). */
  logVolume(): { lines: number; bytes: number };
  /** Memory after a forced full GC, through the inspector (gateway only). */
  memory(): Promise<MemorySample | undefined>;
}

export interface GatewayChildOptions {
  readonly agents: readonly string[];
  readonly password: string;
  readonly logLevel: string;
  /** Media port range for the gateway's legs (3 ports per call: WebRTC leg, RTP + RTCP towards the trunk). */
  readonly mediaPorts: { readonly min: number; readonly max: number };
  /** Write a V8 CPU profile into this directory when the gateway exits. */
  readonly profileDir?: string;
}

/** A port the kernel just gave out for both UDP and TCP on 127.0.0.1 (free right now). */
export async function freePort(): Promise<number> {
  for (;;) {
    const udp = dgram.createSocket('udp4');
    udp.bind(0, '127.0.0.1');
    await once(udp, 'listening');
    const port = udp.address().port;
    const ok = await new Promise<boolean>((resolve) => {
      const tcp = net.createServer();
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => tcp.close(() => resolve(true)));
    });
    udp.close();
    if (ok) return port;
  }
}

export function didFor(index: number): string {
  return String(9000 + index);
}

function gatewayYaml(o: GatewayChildOptions, sipPort: number, httpPort: number): string {
  return [
    `http: { host: 127.0.0.1, port: ${httpPort}, publicDir: ${JSON.stringify(path.join(REPO, 'public'))}, maxConnectionsPerAddress: ${o.agents.length + 8} }`,
    'sip:',
    '  listeners:',
    `    - { protocol: udp, host: 127.0.0.1, port: ${sipPort} }`,
    `media: { bindAddress: 127.0.0.1, ports: { min: ${o.mediaPorts.min}, max: ${o.mediaPorts.max} }, timeout: 60 }`,
    'services: { enabled: false }',
    `logLevel: ${o.logLevel}`,
    'users:',
    ...o.agents.map((name) => `  - { name: ${name}, password: ${JSON.stringify(o.password)}, maxCalls: 100000 }`),
    'trunks:',
    '  - { name: bench, host: 127.0.0.1, port: 5060, allowedSources: [127.0.0.1/32], maxCalls: 100000 }',
    'routes:',
    '  inbound:',
    ...o.agents.map((name, i) => `    - { match: "${didFor(i)}", trunk: bench, users: [${name}] }`),
    '',
  ].join('\n');
}



async function stopChild(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  await exited;
  clearTimeout(timer);
}

export async function startGatewayChild(o: GatewayChildOptions): Promise<SystemUnderTest> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-setup-'));
  const [sipPort, httpPort, inspectPort] = [await freePort(), await freePort(), await freePort()];
  const configFile = path.join(dir, 'gateway.yaml');
  const logFile = path.join(dir, 'gateway.log');
  writeFileSync(configFile, gatewayYaml(o, sipPort, httpPort));
  const log = openSync(logFile, 'w');
  // The inspector (loopback, no session attached until a memory reading) lets the benchmark force a GC.
  const execArgv = [`--inspect=127.0.0.1:${inspectPort}`, ...(o.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${o.profileDir}`])];
  const env = { ...process.env };
  delete env.LOG_LEVEL; // the config's logLevel decides
  const child = spawn(NODE, [...execArgv, path.join(REPO, 'src/main.ts'), '--config', configFile], {
    cwd: REPO,
    env,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  // Never leave a gateway behind if the benchmark dies (an exception, Ctrl-C).
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  const ready = o.logLevel === 'silent' || o.logLevel === 'warn' || o.logLevel === 'error' || o.logLevel === 'fatal'
    ? waitForTcp(httpPort, child, 20_000)
    : waitForLine(logFile, 'gateway listening', child, 20_000);
  try {
    await ready;
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    kind: 'gateway',
    pid: child.pid!,
    sip: { host: '127.0.0.1', port: sipPort },
    wsUrl: `ws://127.0.0.1:${httpPort}/sip`,
    register: true,
    async stop() {
      await stopChild(child, 15_000);
      rmSync(dir, { recursive: true, force: true });
    },
    logProblems() {
      const problems = new Map<string, number>();
      if (!existsSync(logFile)) return problems;
      for (const line of readFileSync(logFile, 'utf8').split('\n')) {
        if (line.startsWith('Debugger ') || line.startsWith('For help, see:')) continue; // the inspector's own notices
        if (!line.startsWith('{')) {
          if (line.trim() !== '') problems.set(line.slice(0, 120), (problems.get(line.slice(0, 120)) ?? 0) + 1);
          continue;
        }
        try {
          const entry = JSON.parse(line) as { level?: number; msg?: string };
          if ((entry.level ?? 0) >= 40) problems.set(entry.msg ?? '?', (problems.get(entry.msg ?? '?') ?? 0) + 1);
        } catch {
          // A torn last line while the process is still writing.
        }
      }
      return problems;
    },
    logVolume() {
      if (!existsSync(logFile)) return { lines: 0, bytes: 0 };
      const text = readFileSync(logFile);
      let lines = 0;
      for (let i = text.indexOf(10); i >= 0; i = text.indexOf(10, i + 1)) lines++;
      return { lines, bytes: text.length };
    },
    memory: () => memoryAfterGc(inspectPort),
  };
}

export async function startRelayChild(): Promise<SystemUnderTest> {
  const child = fork(fileURLToPath(new URL('./call-setup-relay.ts', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [ports] = (await once(child, 'message')) as [{ udp: number; ws: number }];
  return {
    kind: 'relay',
    pid: child.pid!,
    sip: { host: '127.0.0.1', port: ports.udp },
    wsUrl: `ws://127.0.0.1:${ports.ws}/sip`,
    register: false,
    stop: () => stopChild(child, 5000),
    logProblems: () => new Map(),
    logVolume: () => ({ lines: 0, bytes: 0 }),
    memory: () => Promise.resolve(undefined),
  };
}

// ---- /proc readings -------------------------------------------------------------------------------------------

let ticks: number | undefined;
function ticksPerSecond(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execSync('getconf CLK_TCK', { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** CPU time (user + system, all threads) the process has used, ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond(); // utime, stime (fields 14, 15)
}

export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? Number.NaN : Number(m[1]) * 1024;
}

/**
 * Datagrams the kernel dropped on the UDP socket bound to 127.0.0.1:`port` because its receive buffer was full
 * (the `drops` column of /proc/net/udp). A process that stalls for a moment loses SIP requests here, and the
 * peer only notices through its retransmission timers.
 */
export function udpDrops(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === `0100007F:${hexPort}`) return Number(fields[fields.length - 1]);
  }
  return Number.NaN;
}
