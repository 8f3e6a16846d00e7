/**
 * Waiting for a benchmark's gateway child to come up: by its log line (when it logs at info or below) or by its
 * HTTP port. Either way a child that exits meanwhile fails the wait at once, with the tail of its log.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';

const POLL_MS = 50;

export async function waitForTcp(port: number, child: ChildProcess, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`gateway exited during start-up (${child.exitCode})`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error(`gateway did not listen on ${port} within ${ms} ms`);
}

export async function waitForLine(file: string, text: string, child: ChildProcess, ms: number): Promise<void> {
  const tail = (): string => (existsSync(file) ? readFileSync(file, 'utf8').slice(-2000) : '');
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`gateway exited during start-up (${child.exitCode}): ${tail()}`);
    if (existsSync(file) && readFileSync(file, 'utf8').includes(text)) return;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error(`gateway did not log "${text}" within ${ms} ms: ${tail()}`);
}
