/**
 * What lingering transactions keep (retention.ts): once the outcome is known, a transaction holds no SDP body
 * and no provisional response, only what retransmission absorption needs — and `release(callId)` cuts an Accepted
 * INVITE client transaction loose from its TU while still re-ACKing retransmitted 2xx.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { TransactionLayer, type ServerTransaction } from '../../../src/signaling/transaction/transaction-layer.ts';
import { InviteServerTransaction } from '../../../src/signaling/transaction/invite-server-transaction.ts';
import { InviteClientTransaction } from '../../../src/signaling/transaction/invite-client-transaction.ts';
import { newBranch } from '../../../src/signaling/transaction/branch.ts';
import { createRequest, createResponseTo, type SipRequest, type SipResponse } from '../../../src/signaling/message.ts';
import { parseSipMessage } from '../../../src/signaling/parser.ts';
import { serializeSipMessage } from '../../../src/signaling/serializer.ts';
import { RecordingChannel, buildRequest } from './test-channel.ts';

const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';

const layers: TransactionLayer[] = [];
afterEach(() => {
  for (const l of layers.splice(0)) l.close();
});

function serverLayer(onRequest: (request: SipRequest, tx: ServerTransaction) => void): TransactionLayer {
  const layer = new TransactionLayer({ onRequest, onAck: () => {}, onCancel: () => {} });
  layers.push(layer);
  return layer;
}

/** An INVITE with SDP as it arrives from the network (parsed from bytes, so header values are slices). */
function receivedInvite(method = 'INVITE'): SipRequest {
  const text =
    `${method} sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=${newBranch()};rport\r\n` +
    'Max-Forwards: 70\r\nFrom: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: retention-1\r\n' +
    `CSeq: 1 ${method}\r\nContact: <sip:alice@127.0.0.1:5070>\r\nUser-Agent: test\r\nContent-Type: application/sdp\r\n` +
    `Content-Length: ${SDP.length}\r\n\r\n${SDP}`;
  return parseSipMessage(Buffer.from(text)) as SipRequest;
}

function withSdp(response: SipResponse): SipResponse {
  response.headers.append('Contact', '<sip:gw@127.0.0.1>');
  response.headers.append('Content-Type', 'application/sdp');
  response.body = Buffer.from(SDP);
  return response;
}

describe('lingering server transactions', () => {
  it('an INVITE server transaction in Accepted keeps neither SDP nor provisional, but still the To tag', () => {
    let tx: InviteServerTransaction | undefined;
    const layer = serverLayer((_r, t) => (tx = t as InviteServerTransaction));
    const channel = new RecordingChannel(false);
    const invite = receivedInvite();
    const wire = serializeSipMessage(invite);
    layer.receiveRequest(invite, channel);
    tx!.respond(createResponseTo(tx!.request, 180, undefined, 'gw1'));
    expect(tx!.request.body.length).toBe(SDP.length);
    const ok = withSdp(createResponseTo(tx!.request, 200, undefined, 'gw1'));
    tx!.respond(ok);
    expect(tx!.state).toBe('Accepted');
    // What went on the wire is the full 2xx.
    expect(channel.responses(200)[0]!.body.toString()).toBe(SDP);
    expect(tx!.request.body.length).toBe(0);
    expect(tx!.request.headers.get('call-id')).toBe('retention-1');
    expect(tx!.finalResponse!.status).toBe(200);
    expect(tx!.finalResponse!.body.length).toBe(0);
    expect(tx!.finalResponse!.headers.get('to')).toMatch(/;tag=gw1$/);
    expect(tx!.lastResponse!.status).toBe(200);
    // Still absorbs the INVITE's retransmission without passing it up or answering (RFC 6026).
    const before = channel.sent.length;
    layer.receiveRequest(parseSipMessage(wire) as SipRequest, channel);
    expect(channel.sent.length).toBe(before);
    expect(layer.counts.inviteServer).toBe(1);
  });

  it('an INVITE server transaction in Completed retransmits the full final response, not the provisional', () => {
    let tx: InviteServerTransaction | undefined;
    const layer = serverLayer((_r, t) => (tx = t as InviteServerTransaction));
    const channel = new RecordingChannel(false);
    const invite = receivedInvite();
    layer.receiveRequest(invite, channel);
    tx!.respond(createResponseTo(tx!.request, 180, undefined, 'gw2'));
    const busy = createResponseTo(tx!.request, 486, undefined, 'gw2');
    busy.headers.append('Retry-After', '30');
    tx!.respond(busy);
    expect(tx!.request.body.length).toBe(0);
    layer.receiveRequest(parseSipMessage(serializeSipMessage(invite)) as SipRequest, channel);
    const last = channel.sent.at(-1) as SipResponse;
    expect(serializeSipMessage(last).toString()).toBe(serializeSipMessage(busy).toString());
  });

  it('a non-INVITE server transaction in Completed answers a retransmission with the whole final response', () => {
    let tx: ServerTransaction | undefined;
    const layer = serverLayer((_r, t) => (tx = t));
    const channel = new RecordingChannel(false);
    const register = receivedInvite('REGISTER');
    layer.receiveRequest(register, channel);
    const ok = createResponseTo(tx!.request, 200, undefined, 'reg');
    ok.headers.append('Contact', '<sip:alice@127.0.0.1:5070>;expires=600');
    tx!.respond(ok);
    expect(tx!.request.body.length).toBe(0);
    layer.receiveRequest(parseSipMessage(serializeSipMessage(register)) as SipRequest, channel);
    expect(channel.sent).toHaveLength(2);
    expect(serializeSipMessage(channel.sent[1]!).toString()).toBe(serializeSipMessage(ok).toString());
  });
});

describe('TransactionLayer.release', () => {
  function clientSide(reliable = true) {
    const layer = new TransactionLayer({ onRequest: () => {}, onAck: () => {}, onCancel: () => {} });
    layers.push(layer);
    const channel = new RecordingChannel(reliable);
    const seen: number[] = [];
    const invite = buildRequest('INVITE', { callId: 'released-1' });
    invite.body = Buffer.from(SDP);
    const tx = layer.sendRequest(invite, channel, {
      onResponse: (r) => seen.push(r.status),
      onTimeout: () => {},
      onTransportError: () => {},
    }) as InviteClientTransaction;
    return { layer, channel, seen, tx };
  }

  function ackFor(tx: InviteClientTransaction, toTag: string): SipRequest {
    const r = tx.request;
    return createRequest('ACK', 'sip:bob@127.0.0.1:5080', [
      ['Max-Forwards', '70'],
      ['From', r.headers.get('from')!],
      ['To', `<sip:bob@example.com>;tag=${toTag}`],
      ['Call-ID', r.headers.get('call-id')!],
      ['CSeq', '1 ACK'],
    ]);
  }

  it('keeps re-ACKing a retransmitted 2xx after the TU let go, without calling the TU, and ACKs and BYEs a late fork', () => {
    const { layer, channel, seen, tx } = clientSide();
    const ok = createResponseTo(tx.request, 200, undefined, 'uas1');
    layer.receiveResponse(ok);
    expect(tx.state).toBe('Accepted');
    expect(tx.request.body.length).toBe(0);
    const ack = ackFor(tx, 'uas1');
    layer.sendAck(ack, channel);
    expect(seen).toEqual([200]);

    // Before release: the TU sees retransmissions (RFC 6026).
    layer.receiveResponse(createResponseTo(tx.request, 200, undefined, 'uas1'));
    expect(seen).toEqual([200, 200]);

    layer.release('released-1');
    const acksBefore = channel.requests('ACK').length;
    layer.receiveResponse(createResponseTo(tx.request, 200, undefined, 'uas1'));
    expect(seen).toEqual([200, 200]);
    expect(channel.requests('ACK')).toHaveLength(acksBefore + 1);
    expect(channel.requests('ACK').at(-1)).toBe(ack);
    // Another fork's 2xx that the TU never ACKed (§13.2.2.4): ACK and BYE, by the layer alone (no resolver
    // given: over the INVITE's channel).
    layer.receiveResponse(createResponseTo(tx.request, 200, undefined, 'uas2'));
    expect(seen).toEqual([200, 200]);
    expect(channel.requests('ACK')).toHaveLength(acksBefore + 2);
    expect(channel.requests('ACK').at(-1)!.headers.get('to')).toMatch(/;tag=uas2$/);
    expect(channel.requests('BYE')).toHaveLength(1);
    expect(channel.requests('BYE')[0]!.headers.get('to')).toMatch(/;tag=uas2$/);
    expect(tx.state).toBe('Accepted'); // Timer M still runs its course
  });

  it('a released transaction in Completed still ACKs retransmitted final responses itself, and stops calling the TU', () => {
    const { layer, channel, seen, tx } = clientSide(false);
    layer.receiveResponse(createResponseTo(tx.request, 486, undefined, 'busy'));
    expect(tx.state).toBe('Completed'); // Timer D: 32 s over UDP
    expect(seen).toEqual([486]);
    // A 2xx from another fork is passed up while the TU holds on …
    layer.receiveResponse(createResponseTo(tx.request, 200, undefined, 'fork1'));
    expect(seen).toEqual([486, 200]);
    layer.release('released-1');
    // … and not once it let go: the layer ACKs and BYEs it itself.
    layer.receiveResponse(createResponseTo(tx.request, 200, undefined, 'fork2'));
    expect(seen).toEqual([486, 200]);
    expect(channel.requests('BYE')).toHaveLength(1);
    // §17.1.1.2: the 486's retransmission is still ACKed by the transaction.
    const acks = channel.requests('ACK').length;
    layer.receiveResponse(createResponseTo(tx.request, 486, undefined, 'busy'));
    expect(channel.requests('ACK')).toHaveLength(acks + 1);
    expect(seen).toEqual([486, 200]);
  });

  it('does not touch a transaction that is not yet Accepted', () => {
    const { layer, seen, tx } = clientSide();
    layer.release('released-1');
    layer.receiveResponse(createResponseTo(tx.request, 180, undefined, 'uas1'));
    layer.receiveResponse(createResponseTo(tx.request, 200, undefined, 'uas1'));
    expect(seen).toEqual([180, 200]);
  });
});
