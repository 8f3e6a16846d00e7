/**
 * Child processes the interconnect tests drive on 127.0.0.1: our media node (`src/media-node.ts`), Kamailio
 * (Debian's 5.6, foreground, its runtime files in a temp dir) and the readiness checks they need. Every process is
 * tracked and stopped (SIGTERM, SIGKILL after a grace period) by `stopAll()`, and killed synchronously if the test
 * process exits first, so a failed test leaves nothing listening.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** The project's Node 22 (the `node` devDependency); the system node may be older. */
export const NODE = existsSync(path.join(ROOT, 'node_modules/.bin/node')) ? path.join(ROOT, 'node_modules/.bin/node') : process.execPath;
export const KAMAILIO_CFG = path.join(ROOT, 'test/interconnect/kamailio.cfg');

export function haveKamailio(): boolean {
  return spawnSync('sh', ['-c', 'command -v kamailio'], { stdio: 'ignore' }).status === 0;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process with its output kept (bounded) and its lines observable. */
export class TestProcess {
  readonly child: ChildProcess;
  readonly label: string;
  readonly exited: Promise<ExitInfo>;
  readonly lines: string[] = [];
  #output = '';
  #exit: ExitInfo | null = null;
  readonly #listeners = new Set<(line: string) => void>();

  constructor(label: string, command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
    this.label = label;
    this.child = spawn(command, args, { cwd: options.cwd ?? ROOT, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let partial = '';
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString();
      this.#output = (this.#output + text).slice(-400_000);
      partial += text;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        this.lines.push(line);
        if (this.lines.length > 20_000) this.lines.splice(0, 5000);
        for (const listener of [...this.#listeners]) listener(line);
      }
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    this.exited = new Promise((resolve) => {
      this.child.on('error', (err) => {
        this.#output += `\nspawn failed: ${err.message}`;
        this.#exit ??= { code: null, signal: null };
        resolve(this.#exit);
      });
      this.child.on('close', (code, signal) => {
        this.#exit ??= { code, signal };
        resolve(this.#exit);
      });
    });
    live.add(this);
    void this.exited.then(() => live.delete(this));
  }

  get exit(): ExitInfo | null {
    return this.#exit;
  }

  output(chars = 8000): string {
    return `--- ${this.label} (tail)\n${this.#output.slice(-chars)}`;
  }

  /** The first line (seen or future) `match` accepts; rejects when the process exits first or on timeout. */
  waitForLine(match: (line: string) => boolean, what: string, timeoutMs = 15_000): Promise<string> {
    const seen = this.lines.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(() => reject(new Error(`${this.label}: no ${what} within ${timeoutMs} ms\n${this.output()}`))), timeoutMs);
      const listener = (line: string): void => {
        if (match(line)) done(() => resolve(line));
      };
      const done = (fn: () => void): void => {
        clearTimeout(timer);
        this.#listeners.delete(listener);
        fn();
      };
      this.#listeners.add(listener);
      void this.exited.then((exit) => done(() => reject(new Error(`${this.label} exited (${JSON.stringify(exit)}) before ${what}\n${this.output()}`))));
    });
  }

  kill(signal: NodeJS.Signals): void {
    if (this.#exit === null) {
      try {
        this.child.kill(signal);
      } catch {
        // gone already
      }
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<ExitInfo> {
    if (this.#exit) return this.#exit;
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }
}

const live = new Set<TestProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

// ------------------------------------------------------------------------------------------- media node

export interface MediaNodeProcess {
  readonly process: TestProcess;
  readonly ngPort: number;
  /** `udp:127.0.0.1:<port>` */
  readonly ng: string;
}

/** `node src/media-node.ts --listen-ng 127.0.0.1:<ngPort> --interface 127.0.0.1 …`, ready once it logs that it listens. */
export async function startMediaNode(options: { ngPort: number; portMin: number; portMax: number; label?: string; logLevel?: string }): Promise<MediaNodeProcess> {
  const args = [
    'src/media-node.ts',
    '--listen-ng', `127.0.0.1:${options.ngPort}`,
    '--interface', '127.0.0.1',
    '--port-min', String(options.portMin),
    '--port-max', String(options.portMax),
  ];
  const proc = new TestProcess(options.label ?? `media-node:${options.ngPort}`, NODE, args, { env: { ...process.env, LOG_LEVEL: options.logLevel ?? process.env['INTERCONNECT_LOG_LEVEL'] ?? 'info' } });
  await proc.waitForLine((l) => l.includes('"media node listening"'), "'media node listening'", 20_000);
  return { process: proc, ngPort: options.ngPort, ng: `udp:127.0.0.1:${options.ngPort}` };
}

// ---------------------------------------------------------------------------------------------- Kamailio

export interface KamailioOptions {
  sipPort: number;
  wsPort: number;
  /** The media node's ng socket, `udp:127.0.0.1:<port>`. */
  ng: string;
  /** Where INVITEs from the WebSocket side go: `sip:127.0.0.1:<port>`. */
  trunk: string;
  /** Wrap the command (e.g. `ip netns exec <ns>`): [command, ...prefix args]. */
  wrap?: readonly string[];
}

/** The command line: foreground (-DD), log to stderr (-E), runtime and working dir in a temp folder. */
export function kamailioArgs(options: KamailioOptions, dir: string): string[] {
  return [
    '-f', KAMAILIO_CFG,
    '-DD', '-E',
    '-Y', dir,
    '-w', dir,
    '-m', '32', '-M', '4',
    '--substdef', `!SIP_PORT!${options.sipPort}!`,
    '--substdef', `!WS_PORT!${options.wsPort}!`,
    '--substdef', `!NG_SOCK!${options.ng}!`,
    '--substdef', `!TRUNK_URI!${options.trunk}!`,
  ];
}

export interface KamailioProcess {
  readonly process: TestProcess;
  readonly sipPort: number;
  readonly dir: string;
  readonly wsUrl: string;
  stop(): Promise<ExitInfo>;
}

/** Starts Kamailio on loopback and waits until it answers SIP OPTIONS on UDP and accepts TCP on the WS port. */
export async function startKamailio(options: KamailioOptions): Promise<KamailioProcess> {
  const dir = mkdtempSync(path.join(tmpdir(), 'interconnect-kamailio-'));
  const proc = new TestProcess('kamailio', 'kamailio', kamailioArgs(options, dir), { cwd: dir });
  const stop = async (): Promise<ExitInfo> => {
    const exit = await proc.stop();
    rmSync(dir, { recursive: true, force: true });
    return exit;
  };
  try {
    await waitUntil(() => sipOptionsAnswered(options.sipPort), `kamailio answering OPTIONS on udp 127.0.0.1:${options.sipPort}`, 15_000, proc);
    await waitUntil(() => tcpAccepts(options.wsPort), `kamailio accepting on tcp 127.0.0.1:${options.wsPort}`, 5000, proc);
  } catch (err) {
    await stop();
    throw err;
  }
  return { process: proc, dir, sipPort: options.sipPort, wsUrl: `ws://127.0.0.1:${options.wsPort}`, stop };
}

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs: number, proc: TestProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exit !== null) throw new Error(`${proc.label} exited (${JSON.stringify(proc.exit)}) before ${what}\n${proc.output()}`);
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ${what} within ${timeoutMs} ms\n${proc.output()}`);
}

/** One OPTIONS over UDP; true on any SIP response within 500 ms. */
export function sipOptionsAnswered(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const timer = setTimeout(() => finish(false), 500);
    function finish(ok: boolean): void {
      clearTimeout(timer);
      socket.close();
      resolve(ok);
    }
    socket.on('error', () => finish(false));
    socket.on('message', (msg) => finish(msg.toString('latin1').startsWith('SIP/2.0 ')));
    socket.bind(0, '127.0.0.1', () => {
      const local = socket.address().port;
      const tag = randomBytes(4).toString('hex');
      socket.send(
        `OPTIONS sip:127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${local};branch=z9hG4bK${tag};rport\r\n` +
          `Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=${tag}\r\nTo: <sip:127.0.0.1:${port}>\r\n` +
          `Call-ID: probe-${tag}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
        port,
        '127.0.0.1',
      );
    });
  });
}

function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
