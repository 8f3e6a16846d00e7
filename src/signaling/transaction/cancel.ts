/**
 * CANCEL for a pending INVITE (RFC 3261 §9.1). Building is pure; when it may be sent is decided by the
 * transaction layer (only after a provisional response, never after a final one).
 */
import { createRequest, type SipRequest } from '../message.ts';
import { Headers } from '../headers.ts';
import { readCSeq } from './matching.ts';
import { TransactionError } from './errors.ts';

/**
 * §9.1: "The Request-URI, Call-ID, To, the numeric part of CSeq, and From header fields in the CANCEL request
 * MUST be identical to those in the request being cancelled, including tags. A CANCEL constructed by a client
 * MUST have only a single Via header field value matching the top Via value in the request being cancelled
 * … the method part of the CSeq header field MUST have a value of CANCEL. If the request being cancelled
 * contains a Route header field, the CANCEL request MUST include that Route header field's values."
 * The shared branch is how the server finds the INVITE (§9.2) and how our own layer files the CANCEL's client
 * transaction apart from the INVITE's (§17.1.3: same branch, different CSeq method).
 */
export function buildCancel(invite: SipRequest): SipRequest {
  const topVia = invite.headers.getAll('via')[0];
  const cseq = readCSeq(invite);
  const callId = invite.headers.get('call-id');
  const from = invite.headers.get('from');
  const to = invite.headers.get('to');
  if (topVia === undefined || cseq === undefined || callId === undefined || from === undefined || to === undefined) {
    throw new TransactionError('SIP_TRANSACTION_REQUEST', 'cannot build CANCEL: the request lacks Via, CSeq, Call-ID, From or To');
  }
  const headers = new Headers();
  headers.append('Via', topVia);
  headers.append('Max-Forwards', invite.headers.get('max-forwards') ?? '70');
  for (const route of invite.headers.getAll('route')) headers.append('Route', route);
  headers.append('From', from);
  headers.append('To', to);
  headers.append('Call-ID', callId);
  headers.append('CSeq', `${cseq.seq} CANCEL`);
  return createRequest('CANCEL', invite.uri, headers);
}
