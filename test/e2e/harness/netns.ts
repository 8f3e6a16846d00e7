/**
 * A private network namespace for one end-to-end suite: only `lo` (127.0.0.1, ::1) is up inside, so Chromium,
 * the gateway and SIPp cannot see, bind to or gather ICE candidates on any other interface of this machine.
 * Loopback is per namespace: everything that talks over the network runs INSIDE as a child process
 * (`ip netns exec <ns> …`); the test process stays outside and talks to those children over pipes only.
 *
 * Needs root and iproute2. Names are `gwe2e-<pid>-<n>`; a namespace is deleted in `close()` and, as a last
 * resort, when the test process exits; namespaces left behind by test processes that died are removed the
 * next time one is created.
 */
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { NsProcess, type NsProcessOptions } from './process.ts';

const PREFIX = 'gwe2e-';

export class NetnsError extends Error {
  readonly code = 'E2E_NETNS';
}

/** Why namespaces cannot be made here, or null when they can. */
export function netnsProblem(): string | null {
  if (spawnSync('sh', ['-c', 'command -v ip'], { stdio: 'ignore' }).status !== 0) return 'the `ip` command (iproute2) is missing: apt-get install -y iproute2';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return 'network namespaces need root (run the end-to-end tests as root, as CI does)';
  }
  return null;
}

function ip(args: readonly string[]): { ok: boolean; out: string } {
  const run = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  return { ok: run.status === 0, out: `${run.stdout ?? ''}${run.stderr ?? ''}`.trim() };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Remove `gwe2e-<pid>-*` namespaces whose test process is gone (a run killed with SIGKILL leaves them). */
function removeStale(): void {
  const list = ip(['netns', 'list']);
  if (!list.ok) return;
  for (const line of list.out.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const match = /^gwe2e-(\d+)-\d+$/.exec(name);
    if (match && !pidAlive(Number(match[1]))) ip(['netns', 'delete', name]);
  }
}

const live = new Set<Netns>();
let counter = 0;
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous last resort: a suite that crashed before its afterAll must not leave processes or namespaces.
  process.on('exit', () => {
    for (const ns of live) ns.closeSync();
  });
}

export class Netns {
  readonly name: string;
  readonly #children = new Set<NsProcess>();
  #closed = false;

  constructor(name: string) {
    this.name = name;
  }

  /** argv that runs `command args…` inside the namespace. */
  argv(command: string, args: readonly string[] = []): string[] {
    return ['netns', 'exec', this.name, command, ...args];
  }

  /**
   * Start `command` inside the namespace. `ip netns exec` execs the command after setns(2), so the child's pid
   * is the command's own pid and signals reach it directly.
   */
  spawn(command: string, args: readonly string[], options: NsProcessOptions = {}): NsProcess {
    if (this.#closed) throw new NetnsError(`namespace ${this.name} is closed`);
    const child = new NsProcess(this, command, args, options);
    this.#children.add(child);
    void child.exited.then(() => this.#children.delete(child));
    return child;
  }

  /** Run a command inside the namespace to completion (for setup steps: `ip addr`, probes). */
  run(command: string, args: readonly string[], options: SpawnOptions = {}): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn('ip', this.argv(command, args), { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, output }));
    });
  }

  /** Stop every process still running inside (SIGTERM, then SIGKILL), then delete the namespace. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await Promise.all([...this.#children].map((c) => c.stop({ timeoutMs: 5000 }).catch(() => undefined)));
    this.closeSync();
  }

  closeSync(): void {
    for (const child of this.#children) child.kill('SIGKILL');
    this.#children.clear();
    if (!this.#closed) {
      this.#closed = true;
      ip(['netns', 'delete', this.name]);
      live.delete(this);
    }
  }
}

/** A fresh namespace with `lo` up; throws NetnsError with the reason when it cannot be made. */
export async function createNetns(): Promise<Netns> {
  const problem = netnsProblem();
  if (problem) throw new NetnsError(problem);
  removeStale();
  installExitHook();
  const name = `${PREFIX}${process.pid}-${counter++}`;
  const add = ip(['netns', 'add', name]);
  if (!add.ok) throw new NetnsError(`ip netns add ${name} failed: ${add.out}`);
  const ns = new Netns(name);
  live.add(ns);
  const up = ip(['-n', name, 'link', 'set', 'lo', 'up']);
  if (!up.ok) {
    ns.closeSync();
    throw new NetnsError(`ip -n ${name} link set lo up failed: ${up.out}`);
  }
  return ns;
}

/** The interfaces and addresses inside, for asserting that only loopback is there. */
export async function addressesIn(ns: Netns): Promise<string[]> {
  const { output } = await ns.run('ip', ['-o', 'addr', 'show']);
  return output
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [, dev, family, addr] = /^\d+:\s+(\S+)\s+(inet6?)\s+(\S+)/.exec(line) ?? [];
      return `${dev} ${family} ${addr}`;
    });
}
