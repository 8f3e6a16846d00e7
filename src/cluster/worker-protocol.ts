/**
 * The messages between the gateway and a supervised media worker (`node src/media-node.ts --supervised`), over the
 * IPC channel child_process.fork gives it (JSON serialization). Everything goes this way, and nothing over a
 * socket: a local user cannot reach a worker's control plane, there is no ng port to find.
 *
 * - ng: rtpengine's ng messages (`cookie SP bencode`), both ways, as latin1 strings (one char per byte, so any
 *   byte survives JSON). Same framing, cookie cache and commands as over UDP.
 * - media events: what ng cannot carry (it has no notifications) — a side's media timeout, a DTMF digit, a leg
 *   that failed — so the gateway hears them at once, as it does from its in-process media plane.
 * - start-up: `ready` once the worker takes commands, or `failed` with why it could not start.
 */

/** Worker → gateway. */
export type WorkerMessage =
  /** Taking ng commands on the channel. */
  | { type: 'ready' }
  /** Start-up failed (a media port range it cannot bind, a bad codec); the worker exits right after. */
  | { type: 'failed'; message: string }
  /** An ng reply. */
  | { type: 'ng'; data: string }
  | MediaEventMessage;

export type MediaEventMessage =
  | { type: 'media-timeout'; callId: string; tag: string }
  | { type: 'media-dtmf'; callId: string; tag: string; digit: string }
  | { type: 'media-failed'; callId: string; tag: string; reason: string };

/** Gateway → worker: an ng command. */
export type SupervisorMessage = { type: 'ng'; data: string };

/** A worker's message, checked: anything else is `undefined` (a worker is another process, not trusted blindly). */
export function parseWorkerMessage(value: unknown): WorkerMessage | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const m = value as Record<string, unknown>;
  const str = (key: string): string | undefined => (typeof m[key] === 'string' ? (m[key] as string) : undefined);
  const callId = str('callId');
  const tag = str('tag');
  switch (m['type']) {
    case 'ready':
      return { type: 'ready' };
    case 'failed': {
      const message = str('message');
      return message === undefined ? undefined : { type: 'failed', message };
    }
    case 'ng': {
      const data = str('data');
      return data === undefined ? undefined : { type: 'ng', data };
    }
    case 'media-timeout':
      return callId === undefined || tag === undefined ? undefined : { type: 'media-timeout', callId, tag };
    case 'media-dtmf': {
      const digit = str('digit');
      return callId === undefined || tag === undefined || digit === undefined ? undefined : { type: 'media-dtmf', callId, tag, digit };
    }
    case 'media-failed': {
      const reason = str('reason');
      return callId === undefined || tag === undefined || reason === undefined ? undefined : { type: 'media-failed', callId, tag, reason };
    }
    default:
      return undefined;
  }
}

/** The gateway's message, checked. */
export function parseSupervisorMessage(value: unknown): SupervisorMessage | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const m = value as Record<string, unknown>;
  return m['type'] === 'ng' && typeof m['data'] === 'string' ? { type: 'ng', data: m['data'] } : undefined;
}

/** ng bytes ↔ the string carried in a message (latin1: one char per byte, lossless through JSON). */
export function ngToWire(message: Buffer): string {
  return message.toString('latin1');
}

export function ngFromWire(data: string): Buffer {
  return Buffer.from(data, 'latin1');
}
