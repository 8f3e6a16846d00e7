import { describe, it, expect } from 'vitest';
import { clientKey, dialogAckKey, isRfc3261Branch, requestKeys, responseKey, tagOf } from '../../../src/signaling/transaction/matching.ts';
import { buildCancel } from '../../../src/signaling/transaction/cancel.ts';
import { buildNon2xxAck } from '../../../src/signaling/transaction/ack.ts';
import { createRequest } from '../../../src/signaling/message.ts';
import { buildRequest, respondTo } from './test-channel.ts';

describe('tagOf (§19.3)', () => {
  it('reads the tag header parameter after the name-addr, not URI parameters inside <>', () => {
    expect(tagOf('"Bob" <sip:bob@example.com;tag=uri>;tag=ABC123')).toBe('abc123');
    expect(tagOf('<sip:bob@example.com;tag=uri>')).toBeUndefined();
    expect(tagOf('sip:bob@example.com;tag=x1')).toBe('x1');
    expect(tagOf('"a;tag=fake>" <sip:bob@example.com>')).toBeUndefined();
    expect(tagOf('"a;tag=fake>" <sip:bob@example.com> ; TAG = t9 ;x=y')).toBe('t9');
    expect(tagOf(undefined)).toBeUndefined();
    expect(tagOf('<sip:broken')).toBeUndefined();
  });
});

describe('transaction keys', () => {
  const via = 'SIP/2.0/UDP Host.Example.com:5070;branch=z9hG4bKAbC;rport';

  it('§17.2.3: branch (case-insensitive) + sent-by + method; ACK and CANCEL find the INVITE', () => {
    const invite = buildRequest('INVITE', { via });
    const keys = requestKeys(invite)!;
    expect(keys.rfc3261).toBe(true);
    expect(keys.key).toBe('3261 z9hg4bkabc host.example.com:5070 INVITE');
    const ack = buildNon2xxAck(invite, respondTo(invite, 486, 't'));
    expect(requestKeys(ack)!.key).toBe(keys.key);
    const cancel = buildCancel(invite);
    expect(requestKeys(cancel)!.key).not.toBe(keys.key);
    expect(requestKeys(cancel)!.cancelTarget).toBe(keys.key);
    const otherSentBy = buildRequest('INVITE', { via: via.replace(':5070', ':5071') });
    expect(requestKeys(otherSentBy)!.key).not.toBe(keys.key);
  });

  it('§17.1.3: responses by branch and CSeq method', () => {
    const invite = buildRequest('INVITE', { via });
    expect(responseKey(respondTo(invite, 180))).toEqual({ key: clientKey('z9hG4bKAbC', 'INVITE'), sentBy: 'host.example.com:5070' });
    expect(responseKey(respondTo(buildCancel(invite), 200))!.key).toBe(clientKey('z9hG4bKAbC', 'CANCEL'));
  });

  it('RFC 2543 fallback: no magic cookie → URI, tags, Call-ID, CSeq and top Via', () => {
    const invite = buildRequest('INVITE', { via: 'SIP/2.0/UDP 10.0.0.1:5060;branch=1' });
    const keys = requestKeys(invite)!;
    expect(keys.rfc3261).toBe(false);
    const retransmission = createRequest(invite.method, invite.uri, invite.headers.clone());
    expect(requestKeys(retransmission)!.key).toBe(keys.key);
    const ack = buildNon2xxAck(invite, respondTo(invite, 486, 't'));
    expect(requestKeys(ack)!.key).toBe(keys.rfc2543AckKey);
    expect(requestKeys(buildCancel(invite))!.cancelTarget).toBe(keys.key);
    const nextCSeq = buildRequest('INVITE', { via: 'SIP/2.0/UDP 10.0.0.1:5060;branch=1', cseq: 2, callId: invite.headers.get('call-id')! });
    expect(requestKeys(nextCSeq)!.key).not.toBe(keys.key);
  });

  it('isRfc3261Branch needs the cookie and something after it', () => {
    expect(isRfc3261Branch('z9hg4bk1')).toBe(true);
    expect(isRfc3261Branch('z9hg4bk')).toBe(false);
    expect(isRfc3261Branch('abc')).toBe(false);
    expect(isRfc3261Branch(undefined)).toBe(false);
  });

  it('dialogAckKey ties a 2xx to its ACK (Call-ID, CSeq number, tags)', () => {
    const invite = buildRequest('INVITE', { via });
    const ok = respondTo(invite, 200, 'uas1');
    const ack = createRequest('ACK', invite.uri, [
      ['From', invite.headers.get('from')!], ['To', ok.headers.get('to')!],
      ['Call-ID', invite.headers.get('call-id')!], ['CSeq', '1 ACK'],
    ]);
    expect(dialogAckKey(ack)).toBe(dialogAckKey(ok));
    expect(dialogAckKey(invite)).toBeUndefined(); // no To tag yet
  });
});
