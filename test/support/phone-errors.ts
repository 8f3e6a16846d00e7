/**
 * Errors of the test phone. A failed SIP transaction rejects with the final status and reason phrase, so a test
 * can write `await expect(phone.call('nobody')).rejects.toMatchObject({ status: 404 })`.
 */
import { GatewayError } from '../../src/errors.ts';

export type TestPhoneErrorCode =
  | 'PHONE_REJECTED' // a final non-2xx response (status, reason set)
  | 'PHONE_TIMEOUT' // an awaited event did not happen in time
  | 'PHONE_CLOSED' // the phone or its WebSocket closed while waiting
  | 'PHONE_STATE' // the operation is not allowed in the call's current state
  | 'PHONE_PROTOCOL' // the peer broke the protocol (e.g. 2xx to INVITE without SDP)
  | 'PHONE_NOT_LOOPBACK' // an ICE candidate or pair outside loopback
  | 'PHONE_MEDIA'; // werift refused a description

export class TestPhoneError extends GatewayError {
  override readonly code: TestPhoneErrorCode;
  /** The SIP reason phrase of the final response, for PHONE_REJECTED. */
  readonly reason: string | undefined;

  constructor(code: TestPhoneErrorCode, message: string, options?: { status?: number; reason?: string; cause?: unknown }) {
    super(code, message, options);
    this.code = code;
    this.reason = options?.reason;
  }
}

export function rejected(status: number, reason: string, what: string): TestPhoneError {
  return new TestPhoneError('PHONE_REJECTED', `${what} failed: ${status} ${reason}`, { status, reason });
}

/** Races `promise` against a timer; the timer never outlives the race. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TestPhoneError('PHONE_TIMEOUT', `${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A promise with its settle functions, for events that complete an await elsewhere. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
  settled: boolean;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const d: Deferred<T> = {
    promise: new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    }),
    resolve: (value) => {
      if (d.settled) return;
      d.settled = true;
      resolve(value);
    },
    reject: (error) => {
      if (d.settled) return;
      d.settled = true;
      reject(error);
    },
    settled: false,
  };
  // A rejection nobody awaits (e.g. `answered` of a call the test cancels) must not be an unhandled rejection.
  d.promise.catch(() => {});
  return d;
}
