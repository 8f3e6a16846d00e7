/**
 * Responses of the services peer (RFC 3261 §8.2.6): createResponseTo does the §8.2.6.2 copying; this adds our To
 * tag, Server, and — on 488 and friends — a Warning (§20.43) that tells the caller's operator why.
 */
import { createResponseTo, type SipRequest, type SipResponse } from '../signaling/message.ts';

export interface ResponseOptions {
  readonly toTag?: string;
  readonly reason?: string;
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  readonly sdp?: string;
}

/** §20.43 warn-codes we use: 305 "Incompatible media format", 399 "Miscellaneous warning". */
export type WarnCode = 305 | 399;

export function buildResponse(request: Pick<SipRequest, 'headers'>, status: number, server: string, options: ResponseOptions = {}): SipResponse {
  const response = createResponseTo(request, status, options.reason, options.toTag);
  for (const [name, value] of options.headers ?? []) response.headers.append(name, value);
  response.headers.append('Server', server);
  if (options.sdp !== undefined) {
    response.headers.append('Content-Type', 'application/sdp');
    response.body = Buffer.from(options.sdp, 'utf8');
  }
  return response;
}

/** warning-value = warn-code SP warn-agent SP warn-text (a quoted-string: quotes and backslashes escaped). */
export function warning(code: WarnCode, agent: string, text: string): readonly [string, string] {
  const quoted = text.replace(/[\r\n]/g, ' ').replace(/(["\\])/g, '\\$1').slice(0, 200);
  return ['Warning', `${code} ${agent} "${quoted}"`];
}
