/**
 * The ACK an INVITE client transaction sends for a 3xx–6xx response (RFC 3261 §17.1.1.3). The ACK for a 2xx
 * is not part of the transaction (§17, RFC 6026): the TU builds that one from the dialog (§13.2.2.4).
 */
import { createRequest, type SipRequest, type SipResponse } from '../message.ts';
import { Headers } from '../headers.ts';
import { readCSeq } from './matching.ts';
import { TransactionError } from './errors.ts';

/**
 * §17.1.1.3: "The ACK request constructed by the client transaction MUST contain values for the Call-ID, From,
 * and Request-URI that are equal to the values of those header fields in the request passed to the transport
 * by the client transaction … The To header field in the ACK MUST equal the To header field in the response
 * being acknowledged … The ACK MUST contain a single Via header field, and this MUST be equal to the top Via
 * header field of the original request. The CSeq header field in the ACK MUST contain the same value for the
 * sequence number as was present in the original request, but the method parameter MUST be equal to "ACK".
 * If the INVITE request whose response is being acknowledged had Route header fields, those header fields
 * MUST appear in the ACK."
 * Max-Forwards is copied (every request carries one, §8.1.1.6). The body is empty.
 */
export function buildNon2xxAck(invite: SipRequest, response: SipResponse): SipRequest {
  const topVia = invite.headers.getAll('via')[0];
  const cseq = readCSeq(invite);
  const callId = invite.headers.get('call-id');
  const from = invite.headers.get('from');
  const to = response.headers.get('to') ?? invite.headers.get('to');
  if (topVia === undefined || cseq === undefined || callId === undefined || from === undefined || to === undefined) {
    throw new TransactionError('SIP_TRANSACTION_REQUEST', 'cannot build ACK: the INVITE lacks Via, CSeq, Call-ID, From or To');
  }
  const headers = new Headers();
  headers.append('Via', topVia);
  headers.append('Max-Forwards', invite.headers.get('max-forwards') ?? '70');
  for (const route of invite.headers.getAll('route')) headers.append('Route', route);
  headers.append('From', from);
  headers.append('To', to);
  headers.append('Call-ID', callId);
  headers.append('CSeq', `${cseq.seq} ACK`);
  return createRequest('ACK', invite.uri, headers);
}
