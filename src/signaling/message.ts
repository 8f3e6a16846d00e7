/**
 * The SIP message model (RFC 3261 §7): a start line, ordered header fields and a body kept as bytes, because
 * bodies (SDP, DTMF relay, multipart) are not always text and Content-Length counts bytes.
 * The Request-URI is kept as its raw text; `parseUri` (uri.ts) gives the structured view when it is needed.
 */
import { Headers } from './headers.ts';

export const SIP_VERSION = 'SIP/2.0';

export interface SipRequest {
  readonly type: 'request';
  method: string;
  uri: string;
  headers: Headers;
  body: Buffer;
}

export interface SipResponse {
  readonly type: 'response';
  status: number;
  reason: string;
  headers: Headers;
  body: Buffer;
}

export type SipMessage = SipRequest | SipResponse;

const EMPTY_BODY = Buffer.alloc(0);

export function createRequest(
  method: string,
  uri: string,
  headers: Iterable<readonly [string, string]> | Headers = [],
  body: Buffer | string = EMPTY_BODY,
): SipRequest {
  return {
    type: 'request',
    method,
    uri,
    headers: headers instanceof Headers ? headers : new Headers(headers),
    body: typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
  };
}

export function createResponse(
  status: number,
  reason: string,
  headers: Iterable<readonly [string, string]> | Headers = [],
  body: Buffer | string = EMPTY_BODY,
): SipResponse {
  return {
    type: 'response',
    status,
    reason,
    headers: headers instanceof Headers ? headers : new Headers(headers),
    body: typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
  };
}

export function isRequest(msg: SipMessage): msg is SipRequest {
  return msg.type === 'request';
}

export function isResponse(msg: SipMessage): msg is SipResponse {
  return msg.type === 'response';
}

/** Default reason phrases (RFC 3261 §21 and extensions we send). */
export const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Trying', 180: 'Ringing', 181: 'Call Is Being Forwarded', 182: 'Queued', 183: 'Session Progress',
  200: 'OK', 202: 'Accepted', 204: 'No Notification',
  300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Moved Temporarily', 305: 'Use Proxy', 380: 'Alternative Service',
  400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found',
  405: 'Method Not Allowed', 406: 'Not Acceptable', 407: 'Proxy Authentication Required', 408: 'Request Timeout',
  410: 'Gone', 413: 'Request Entity Too Large', 414: 'Request-URI Too Long', 415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme', 420: 'Bad Extension', 421: 'Extension Required', 422: 'Session Interval Too Small',
  423: 'Interval Too Brief', 429: 'Too Many Requests', 439: 'First Hop Lacks Outbound Support',
  480: 'Temporarily Unavailable', 481: 'Call/Transaction Does Not Exist', 482: 'Loop Detected', 483: 'Too Many Hops',
  484: 'Address Incomplete', 485: 'Ambiguous', 486: 'Busy Here', 487: 'Request Terminated', 488: 'Not Acceptable Here',
  489: 'Bad Event', 491: 'Request Pending', 493: 'Undecipherable',
  500: 'Server Internal Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable',
  504: 'Server Time-out', 505: 'Version Not Supported', 513: 'Message Too Large', 580: 'Precondition Failure',
  600: 'Busy Everywhere', 603: 'Decline', 604: 'Does Not Exist Anywhere', 606: 'Not Acceptable',
};

export function reasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? (status < 200 ? 'Trying' : status < 300 ? 'OK' : 'Error');
}

/**
 * A response to `request` per RFC 3261 §8.2.6.2: Via (all values, in order), From, Call-ID and CSeq copied;
 * To copied and, when `toTag` is given and the request's To has none, tagged. 100 Trying copies Timestamp (§8.2.6.1).
 */
export function createResponseTo(
  request: Pick<SipRequest, 'headers'>,
  status: number,
  reason: string = reasonPhrase(status),
  toTag?: string,
): SipResponse {
  const headers = new Headers();
  for (const field of request.headers) {
    if (field.key === 'via' || field.key === 'from' || field.key === 'call-id' || field.key === 'cseq') {
      headers.append(field.name, field.value);
    } else if (field.key === 'to') {
      const tagged = toTag !== undefined && !/;\s*tag\s*=/i.test(field.value);
      headers.append(field.name, tagged ? `${field.value};tag=${toTag}` : field.value);
    } else if (field.key === 'timestamp' && status === 100) {
      headers.append(field.name, field.value);
    }
  }
  return createResponse(status, reason, headers);
}
