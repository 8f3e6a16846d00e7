/**
 * The UAS dialog state of RFC 3261 §12.1.1 and the requests sent in it (§12.2.1.1), from INVITEs as proxies
 * deliver them (Record-Route, display names, transport parameters).
 */
import { describe, it, expect } from 'vitest';
import { parseSipMessage } from '../../src/signaling/parser.ts';
import type { SipRequest } from '../../src/signaling/message.ts';
import { acceptRemoteSeq, buildInDialogRequest, createUasDialog, nextHop, requestDialogKey, dialogKey, uriTarget } from '../../src/services/dialog.ts';

function invite(extra: string[] = [], contact = '<sip:alice@192.0.2.10:5062;transport=tcp>'): SipRequest {
  const text = [
    'INVITE sip:echo@127.0.0.1:5070 SIP/2.0',
    'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKproxy1',
    'Via: SIP/2.0/TCP 192.0.2.10:5062;branch=z9hG4bKalice1',
    'Max-Forwards: 69',
    ...extra,
    'From: "Alice" <sip:alice@example.org>;tag=a1b2',
    'To: <sip:echo@127.0.0.1>',
    'Call-ID: c0ffee@192.0.2.10',
    'CSeq: 314 INVITE',
    `Contact: ${contact}`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  return parseSipMessage(Buffer.from(text)) as SipRequest;
}

describe('createUasDialog (§12.1.1)', () => {
  it('takes Call-ID, tags, remote target, remote CSeq and the Record-Route set in order', () => {
    const dialog = createUasDialog(invite(['Record-Route: <sip:p2.example.org;lr>, <sip:p1.example.org;lr;transport=tcp>']), 'ourtag');
    expect(dialog).toMatchObject({
      callId: 'c0ffee@192.0.2.10',
      localTag: 'ourtag',
      remoteTag: 'a1b2',
      remoteTarget: 'sip:alice@192.0.2.10:5062;transport=tcp',
      remoteSeq: 314,
      localSeq: undefined,
      routeSet: ['<sip:p2.example.org;lr>', '<sip:p1.example.org;lr;transport=tcp>'],
    });
    expect(dialog.local).toBe('<sip:echo@127.0.0.1>;tag=ourtag');
    expect(dialog.remote).toBe('"Alice" <sip:alice@example.org>;tag=a1b2');
  });

  it('needs exactly one Contact in the INVITE (§8.1.1.8)', () => {
    const noContact = invite();
    noContact.headers.delete('contact');
    expect(() => createUasDialog(noContact, 't')).toThrow(expect.objectContaining({ status: 400 }));
    expect(() => createUasDialog(invite([], '<sip:a@192.0.2.1>, <sip:b@192.0.2.2>'), 't')).toThrow(/exactly one Contact/);
  });
});

describe('requests in the dialog (§12.2.1.1)', () => {
  it('BYE goes to the remote target with the route set when the first route is loose', () => {
    const dialog = createUasDialog(invite(['Record-Route: <sip:p1.example.org:5080;lr>']), 'ourtag');
    const bye = buildInDialogRequest(dialog, 'BYE', 'test-agent');
    expect(bye.uri).toBe('sip:alice@192.0.2.10:5062;transport=tcp');
    expect(bye.headers.getAll('route')).toEqual(['<sip:p1.example.org:5080;lr>']);
    expect(bye.headers.get('from')).toBe('<sip:echo@127.0.0.1>;tag=ourtag');
    expect(bye.headers.get('to')).toBe('"Alice" <sip:alice@example.org>;tag=a1b2');
    expect(bye.headers.get('call-id')).toBe('c0ffee@192.0.2.10');
    expect(nextHop(bye)).toEqual({ protocol: 'UDP', host: 'p1.example.org', port: 5080 });
    // The local sequence number starts somewhere and then counts up by one per request.
    const first = Number(bye.headers.get('cseq')!.split(' ')[0]);
    expect(bye.headers.get('cseq')).toBe(`${first} BYE`);
    expect(buildInDialogRequest(dialog, 'BYE', 'test-agent').headers.get('cseq')).toBe(`${first + 1} BYE`);
  });

  it('puts a strict router in the Request-URI and the remote target last in Route', () => {
    const dialog = createUasDialog(invite(['Record-Route: <sip:strict.example.org>', 'Record-Route: <sip:p1.example.org;lr>']), 't');
    const bye = buildInDialogRequest(dialog, 'BYE', 'x');
    expect(bye.uri).toBe('sip:strict.example.org');
    expect(bye.headers.getAll('route')).toEqual(['<sip:p1.example.org;lr>', '<sip:alice@192.0.2.10:5062;transport=tcp>']);
    expect(nextHop(bye).host).toBe('p1.example.org');
  });

  it('without routes goes straight to the Contact, over its transport', () => {
    const dialog = createUasDialog(invite(), 't');
    expect(nextHop(buildInDialogRequest(dialog, 'BYE', 'x'))).toEqual({ protocol: 'TCP', host: '192.0.2.10', port: 5062 });
    expect(uriTarget('sips:bob@[2001:db8::1]')).toEqual({ protocol: 'TLS', host: '2001:db8::1' });
    expect(() => uriTarget('tel:+15551234')).toThrow();
  });

  it('rejects out-of-order requests and moves the remote CSeq on (§12.2.2)', () => {
    const dialog = createUasDialog(invite(), 'ourtag');
    const later = invite();
    later.headers.set('cseq', '315 BYE');
    const older = invite();
    older.headers.set('cseq', '313 BYE');
    expect(acceptRemoteSeq(dialog, older)).toBe(false);
    expect(acceptRemoteSeq(dialog, later)).toBe(true);
    expect(dialog.remoteSeq).toBe(315);
  });

  it('files an in-dialog request under Call-ID, our tag and theirs', () => {
    const request = invite();
    expect(requestDialogKey(request)).toBeUndefined();
    request.headers.set('to', '<sip:echo@127.0.0.1>;tag=ourtag');
    expect(requestDialogKey(request)).toBe(dialogKey('c0ffee@192.0.2.10', 'ourtag', 'a1b2'));
  });
});
