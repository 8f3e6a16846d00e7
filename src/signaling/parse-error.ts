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

/**
 * A message, header or URI that does not follow the RFC 3261 §25 grammar. `status` is what a server answers
 * when it can answer at all (400, 505 for an unknown version, 513 for an over-size message); the message names
 * the fault so the reason phrase can carry it.
 */
export class SipParseError extends GatewayError {
  partial: PartialMessage | undefined;

  constructor(message: string, options?: { status?: number; code?: string; partial?: PartialMessage }) {
    super(options?.code ?? 'SIP_PARSE', message, { status: options?.status ?? 400 });
    this.partial = options?.partial;
  }
}
