/**
 * Transaction timers, named after RFC 3261 §17 (Table 4 in Appendix A) and RFC 6026 (Timers L and M).
 * Values are milliseconds. The base values T1, T2 and T4 are configurable (§17.1.1.1: "T1 … can be
 * smaller or larger"); every other timer is derived from them and from whether the transport is reliable.
 */
import { GatewayError } from '../../errors.ts';

export interface TimerConfig {
  /** RTT estimate (§17.1.1.1, default 500 ms). */
  T1: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses (default 4 s). */
  T2: number;
  /** Maximum duration a message will remain in the network (default 5 s). */
  T4: number;
}

export const DEFAULT_TIMER_CONFIG: Readonly<TimerConfig> = Object.freeze({ T1: 500, T2: 4000, T4: 5000 });

export class TimerConfigError extends GatewayError {
  constructor(message: string) {
    super('SIP_TIMER_CONFIG', message);
  }
}

/** Validates once, fills defaults, and freezes (config is read on every timer start, never mutated). */
export function resolveTimerConfig(partial: Partial<TimerConfig> = {}): Readonly<TimerConfig> {
  const config = { ...DEFAULT_TIMER_CONFIG, ...partial };
  for (const name of ['T1', 'T2', 'T4'] as const) {
    const value = config[name];
    if (!Number.isFinite(value) || value <= 0) throw new TimerConfigError(`${name} must be a positive number of ms, got ${value}`);
  }
  if (config.T2 < config.T1) throw new TimerConfigError(`T2 (${config.T2}) must not be smaller than T1 (${config.T1})`);
  return Object.freeze(config);
}

/** The name under which a transaction keeps a running timer; one timer per name at a time. */
/** `Cancel` is the §9.1 wait for a final response after a CANCEL was sent (64*T1). */
export type TimerName = 'A' | 'B' | 'D' | 'E' | 'F' | 'G' | 'H' | 'I' | 'J' | 'K' | 'L' | 'M' | 'Cancel';

/** Timer A initial value: INVITE request retransmit interval, unreliable transports only (§17.1.1.2). */
export function timerA(c: TimerConfig): number {
  return c.T1;
}

/** §17.1.1.2: "When timer A fires, the client transaction MUST retransmit the request … and reset the timer with a value of 2*T1" — no T2 cap for INVITE. */
export function nextTimerA(previous: number): number {
  return previous * 2;
}

/** Timer B: INVITE transaction timeout, 64*T1 for all transports (§17.1.1.2). */
export function timerB(c: TimerConfig): number {
  return 64 * c.T1;
}

/**
 * Timer D: wait time for response retransmits. §17.1.1.2: "at least 32 seconds for unreliable transports, and
 * … zero seconds for reliable transports". The floor is 32 s even when T1 is configured smaller, because it
 * must outlast the *server's* Timer H (64 × its T1), which we do not know.
 */
export function timerD(c: TimerConfig, reliable: boolean): number {
  return reliable ? 0 : Math.max(32_000, 64 * c.T1);
}

/** Timer E initial value: non-INVITE request retransmit interval, unreliable only (§17.1.2.2). */
export function timerE(c: TimerConfig): number {
  return c.T1;
}

/** §17.1.2.2 (Trying): "reset … with a value of MIN(2*T1, T2) … MIN(4*T1, T2)" — doubling, capped at T2. */
export function nextTimerE(previous: number, c: TimerConfig): number {
  return Math.min(previous * 2, c.T2);
}

/** §17.1.2.2 (Proceeding): "Timer E MUST be reset with a value of T2 seconds". */
export function timerEProceeding(c: TimerConfig): number {
  return c.T2;
}

/** Timer F: non-INVITE transaction timeout, 64*T1 (§17.1.2.2). */
export function timerF(c: TimerConfig): number {
  return 64 * c.T1;
}

/** Timer G initial value: INVITE response retransmit interval, unreliable only (§17.2.1). */
export function timerG(c: TimerConfig): number {
  return c.T1;
}

/** §17.2.1: "timer G is set to fire in MIN(2*T1, T2) … reset to twice its previous value, with a maximum of T2". */
export function nextTimerG(previous: number, c: TimerConfig): number {
  return Math.min(previous * 2, c.T2);
}

/** Timer H: wait time for ACK receipt, 64*T1 for all transports (§17.2.1). */
export function timerH(c: TimerConfig): number {
  return 64 * c.T1;
}

/** Timer I: wait time for ACK retransmits — T4 unreliable, 0 reliable (§17.2.1). */
export function timerI(c: TimerConfig, reliable: boolean): number {
  return reliable ? 0 : c.T4;
}

/** Timer J: wait time for non-INVITE request retransmits — 64*T1 unreliable, 0 reliable (§17.2.2). */
export function timerJ(c: TimerConfig, reliable: boolean): number {
  return reliable ? 0 : 64 * c.T1;
}

/** Timer K: wait time for response retransmits — T4 unreliable, 0 reliable (§17.1.2.2). */
export function timerK(c: TimerConfig, reliable: boolean): number {
  return reliable ? 0 : c.T4;
}

/** Timer L: INVITE server transaction in Accepted, 64*T1 for all transports (RFC 6026 §8.7). */
export function timerL(c: TimerConfig): number {
  return 64 * c.T1;
}

/** Timer M: INVITE client transaction in Accepted, 64*T1 for all transports (RFC 6026 §8.4). */
export function timerM(c: TimerConfig): number {
  return 64 * c.T1;
}
