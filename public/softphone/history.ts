/** Recent calls, newest first, kept in localStorage. DOM-free. */
import type { StorageLike } from './settings.ts';

export type CallOutcome = 'answered' | 'missed' | 'rejected' | 'failed' | 'cancelled';

export interface CallRecord {
  /** Shown name of the other side. */
  readonly peer: string;
  /** What to dial to call them back. */
  readonly target: string;
  readonly direction: 'outgoing' | 'incoming';
  readonly outcome: CallOutcome;
  /** Epoch ms when the call started. */
  readonly startedAt: number;
  readonly durationSec: number;
  /** Failure text for failed calls. */
  readonly detail?: string;
}

/** How a finished call is listed: answered; else missed/rejected (incoming) or failed/cancelled (outgoing). */
export function callOutcome(
  direction: CallRecord['direction'],
  answered: boolean,
  endedByUs: boolean,
  failed: boolean,
): CallOutcome {
  if (answered) return 'answered';
  if (direction === 'incoming') return endedByUs ? 'rejected' : 'missed';
  return failed ? 'failed' : 'cancelled';
}

export const HISTORY_KEY = 'softphone.recent.v1';
export const HISTORY_LIMIT = 30;

function isRecord(value: unknown): value is CallRecord {
  const r = value as Partial<CallRecord> | null;
  return (
    !!r &&
    typeof r.peer === 'string' &&
    typeof r.target === 'string' &&
    (r.direction === 'outgoing' || r.direction === 'incoming') &&
    typeof r.outcome === 'string' &&
    typeof r.startedAt === 'number' &&
    typeof r.durationSec === 'number'
  );
}

export function loadHistory(storage: StorageLike): CallRecord[] {
  try {
    const parsed: unknown = JSON.parse(storage.getItem(HISTORY_KEY) ?? '[]');
    return Array.isArray(parsed) ? parsed.filter(isRecord).slice(0, HISTORY_LIMIT) : [];
  } catch {
    return [];
  }
}

export function addToHistory(storage: StorageLike, record: CallRecord): CallRecord[] {
  const list = [record, ...loadHistory(storage)].slice(0, HISTORY_LIMIT);
  try {
    storage.setItem(HISTORY_KEY, JSON.stringify(list));
  } catch {
    // Storage unavailable: the list lives for this page only.
  }
  return list;
}

export function clearHistory(storage: StorageLike): void {
  storage.removeItem(HISTORY_KEY);
}

/** "just now", "5 min ago", "yesterday 14:05", or a date, relative to `now`. */
export function whenLabel(startedAt: number, now: number): string {
  const seconds = Math.round((now - startedAt) / 1000);
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  const date = new Date(startedAt);
  const time = `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
  const today = new Date(now);
  if (date.toDateString() === today.toDateString()) return time;
  const yesterday = new Date(now - 86_400_000);
  if (date.toDateString() === yesterday.toDateString()) return `yesterday ${time}`;
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}-${String(date.getDate()).padStart(2, '0')} ${time}`;
}
