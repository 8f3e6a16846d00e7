/**
 * What a supervised media worker (`node src/media-node.ts --supervised`) tells the gateway over the IPC channel
 * child_process.fork gives it. Only start-up is reported this way; everything about calls goes over ng, as it
 * would to a remote node or to rtpengine.
 */

export type WorkerMessage =
  /** Listening: the ng address the worker bound (it binds port 0, so only it knows which port it got). */
  | { type: 'ready'; ng: string }
  /** Start-up failed (a media port range it cannot bind, a bad codec); the worker exits right after. */
  | { type: 'failed'; message: string };

/** A message from the channel, checked: anything else is `undefined` (a worker is another process, not trusted blindly). */
export function parseWorkerMessage(value: unknown): WorkerMessage | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const m = value as Record<string, unknown>;
  if (m['type'] === 'ready' && typeof m['ng'] === 'string') return { type: 'ready', ng: m['ng'] };
  if (m['type'] === 'failed' && typeof m['message'] === 'string') return { type: 'failed', message: m['message'] };
  return undefined;
}
