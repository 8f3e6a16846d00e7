/**
 * The gateway under load, in its own process: the real entry point (`node src/main.ts --config <tmp>.yaml`),
 * logging at `info` (what production runs) into a file. Its CPU (utime + stime of all its threads) and VmRSS come
 * from /proc/<pid>; nothing else runs in it — the built-in services peer is disabled and the far end is the
 * separate echo trunk process (bench/load/echo-trunk.ts).
 *
 * With `mediaWorkers` (media.workers) the gateway forks its media processes itself; `processIds()` names them with
 * the gateway, so CPU and RSS are read for the whole group (the media is in the children then).
 *
 * Config: users `load0…` (password digest, a dial pattern for the benchmark's numbers, limits far above the
 * load), one UDP trunk `echo` pointing at the echo trunk, the outbound route `7` + 8 digits → echo unchanged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../call-setup-gateway.ts';
export { cpuMs, rssBytes } from '../call-setup-gateway.ts';
import { memoryAfterGc, type MemorySample } from '../inspector-memory.ts';
import { waitForLine, waitForTcp } from '../gateway-startup.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

export const LOAD_PASSWORD = 'load-bench-secret';
export const DIAL_PATTERN = '7\\d{8}';

export interface GatewayProcessOptions {
  readonly users: number;
  readonly trunkPort: number;
  readonly mediaPorts: { readonly min: number; readonly max: number };
  readonly logLevel: string;
  /** Write a V8 CPU profile into this directory when the gateway exits (SIGTERM → graceful exit). */
  readonly profileDir?: string;
  /** Extra Node flags for the gateway. */
  readonly nodeFlags?: readonly string[];
  /** `media.workers`: 0 (default) keeps media in the gateway process. */
  readonly mediaWorkers?: number | 'auto';
}

export interface GatewayProcess {
  readonly pid: number;
  readonly wsUrl: string;
  readonly domain: string;
  readonly logFile: string;
  /** The gateway and its live child processes (its media workers), read from /proc now. */
  processIds(): number[];
  /** Forced full GC through the inspector, then process.memoryUsage() inside the gateway. */
  memory(): Promise<MemorySample | undefined>;
  /** Warn-or-worse log lines by message. */
  logProblems(): Map<string, number>;
  stop(): Promise<void>;
}

export function userName(i: number): string {
  return `load${i}`;
}

function config(o: GatewayProcessOptions, sipPort: number, httpPort: number): string {
  const lines = [
    `http: { host: 127.0.0.1, port: ${httpPort}, publicDir: ${JSON.stringify(path.join(REPO, 'public'))}, maxConnectionsPerAddress: ${o.users + 16}, idleTimeout: 3600 }`,
    'sip:',
    '  listeners:',
    `    - { protocol: udp, host: 127.0.0.1, port: ${sipPort} }`,
    `media: { bindAddress: 127.0.0.1, ports: { min: ${o.mediaPorts.min}, max: ${o.mediaPorts.max} }, timeout: 60, workers: ${o.mediaWorkers ?? 0} }`,
    'services: { enabled: false }',
    'limits: { callsPerMinutePerUser: 1000000, maxCallDuration: 86400 }',
    `logLevel: ${o.logLevel}`,
    'trunks:',
    `  - { name: echo, host: 127.0.0.1, port: ${o.trunkPort}, allowedSources: [127.0.0.1/32], maxCalls: 1000000 }`,
    'routes:',
    '  outbound:',
    `    - { match: ${JSON.stringify(DIAL_PATTERN)}, trunk: echo }`,
    'users:',
  ];
  for (let i = 0; i < o.users; i++) {
    lines.push(`  - { name: ${userName(i)}, password: ${LOAD_PASSWORD}, maxCalls: 1000000, dialPatterns: [${JSON.stringify(DIAL_PATTERN)}] }`);
  }
  return `${lines.join('\n')}\n`;
}


/** The Node flags `npm start` gives the gateway (package.json), so the benchmark measures the gateway as users run it. */
export function npmStartFlags(): string[] {
  const start = (JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start ?? '';
  const m = /\bnode((?:\s+--\S+)*)\s+src\/main\.ts/.exec(start);
  return m === null ? [] : m[1]!.trim().split(/\s+/).filter(Boolean);
}

export async function startGatewayProcess(o: GatewayProcessOptions): Promise<GatewayProcess> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-load-'));
  const [sipPort, httpPort, inspectPort] = [await freePort(), await freePort(), await freePort()];
  const configFile = path.join(dir, 'gateway.yaml');
  const logFile = path.join(dir, 'gateway.log');
  writeFileSync(configFile, config(o, sipPort, httpPort));
  const log = openSync(logFile, 'w');
  const execArgv = [
    `--inspect=127.0.0.1:${inspectPort}`,
    ...(o.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${o.profileDir}`]),
    ...(o.nodeFlags ?? npmStartFlags()),
  ];
  const env = { ...process.env };
  delete env.LOG_LEVEL; // the config's logLevel decides
  const child = spawn(process.execPath, [...execArgv, path.join(REPO, 'src/main.ts'), '--config', configFile], { cwd: REPO, env, stdio: ['ignore', log, log] });
  closeSync(log);
  try {
    // 'gateway listening' is an info line; at warn and above the WebSocket port answering says the same.
    if (['info', 'debug', 'trace'].includes(o.logLevel)) await waitForLine(logFile, 'gateway listening', child, 30_000);
    else await waitForTcp(httpPort, child, 30_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    pid: child.pid!,
    wsUrl: `ws://127.0.0.1:${httpPort}/sip`,
    domain: '127.0.0.1',
    logFile,
    processIds: () => [child.pid!, ...childPids(child.pid!)],
    memory: () => memoryAfterGc(inspectPort).catch(() => undefined),
    logProblems() {
      const problems = new Map<string, number>();
      if (!existsSync(logFile)) return problems;
      for (const line of readFileSync(logFile, 'utf8').split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const entry = JSON.parse(line) as { level?: number; msg?: string };
          if ((entry.level ?? 0) >= 40) problems.set(entry.msg ?? '?', (problems.get(entry.msg ?? '?') ?? 0) + 1);
        } catch {
          // a line torn by a concurrent write
        }
      }
      return problems;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(timer);
      }
      if (process.env.BENCH_KEEP_LOGS === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Live processes whose parent is `ppid` (/proc/<pid>/stat, field 4). */
export function childPids(ppid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, parent] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(parent) === ppid && state !== 'Z') out.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

