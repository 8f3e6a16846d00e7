import { GatewayError } from '../errors.ts';
import type { Headers } from './headers.ts';

/**
 * What could be read of a message that failed to parse: enough, when the top Via, From, To, Call-ID and CSeq
 * are among the headers, to answer a broken request with 400 naming the fault (RFC 3261 §8.2 / §16.3 habits).
 */
export interface PartialMessage {
  type: 'request' | 'response' | undefined;
  method: string | undefined;
  uri: string | undefined;
  headers: Headers;
}

/** Longest message kept: it becomes a reason phrase, and a 64 KiB header value must not be echoed back whole. */
const MAX_MESSAGE_LENGTH = 160;

/**
 * A message, header or URI that does not follow the RFC 3261 §25 grammar. `status` is what a server answers
 * when it can answer at all (400, 505 for an unknown version, 513 for an over-size message); the message names
 * the fault so the reason phrase can carry it: it is made safe for one (no control characters, so no CR/LF that
 * would split the status line, and bounded in length) whatever input text a thrower quotes in it.
 */
export class SipParseError extends GatewayError {
  partial: PartialMessage | undefined;

  constructor(message: string, options?: { status?: number; code?: string; partial?: PartialMessage }) {
    // Malformed input from the network is routine, not a bug: a stack trace of the parser's internals would cost
    // more than the parse itself (the fuzzer measured ten times) and tell an operator nothing the message doesn't.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(options?.code ?? 'SIP_PARSE', reasonSafe(message), { status: options?.status ?? 400 });
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.partial = options?.partial;
  }
}

/** Reason-Phrase (§25) allows no CR, LF or other controls; long quoted input is cut. */
export function reasonSafe(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = /[\x00-\x1f\x7f]/.test(text) ? text.replace(/[\x00-\x1f\x7f]+/g, ' ') : text;
  return clean.length > MAX_MESSAGE_LENGTH ? `${clean.slice(0, MAX_MESSAGE_LENGTH - 3)}...` : clean;
}

/**
 * The first fault of a message, collected while parsing reads on, so that the partial message of the error holds
 * every header that can be read.
 */
export class ParseFaults {
  error: SipParseError | undefined;

  add(message: string, status = 400, code?: string): void {
    if (this.error === undefined) this.error = new SipParseError(message, { status, code });
  }

  /** A sub-parser's error, its message prefixed with the header it came from unless it names it already. */
  addFrom(error: unknown, header: string): void {
    const message = error instanceof Error ? error.message : 'malformed';
    this.add(message.includes(header) ? message : `${header}: ${message}`);
  }
}
