/**
 * What a transaction keeps once its outcome is known. UDP transactions linger after the call for up to 32 s
 * (Timers D, H, J, L, M: RFC 3261 §17, RFC 6026) only to absorb retransmissions, and at a few hundred calls per
 * second that is thousands of them. Their bodies — the SDP offers and answers — are dead weight by then: nothing
 * that absorbs a retransmission, matches an ACK or builds a CANCEL reads a body. A body Buffer also pins its
 * backing store (a received datagram, or an 8 KiB slab of Node's Buffer pool shared with other messages).
 *
 * A bodiless message shares the header fields of the original (copying them costs more than it frees: the
 * responses built from a request share its header strings anyway).
 */
import type { SipRequest, SipResponse } from '../message.ts';

const EMPTY_BODY = Buffer.alloc(0);

export function bodilessRequest(request: SipRequest): SipRequest {
  if (request.body.length === 0) return request;
  return { type: 'request', method: request.method, uri: request.uri, headers: request.headers, body: EMPTY_BODY };
}

export function bodilessResponse(response: SipResponse): SipResponse {
  if (response.body.length === 0) return response;
  return { type: 'response', status: response.status, reason: response.reason, headers: response.headers, body: EMPTY_BODY };
}
