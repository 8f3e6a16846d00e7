/**
 * Dialog (RFC 3261 §12) on messages shaped like real captures: a JsSIP INVITE over WSS through two record-routing
 * proxies, an Asterisk-style 180/200, an RFC 2543 strict router.
 */
import { describe, it, expect } from 'vitest';
import { parseSipMessage } from '../../src/signaling/parser.ts';
import type { SipRequest, SipResponse } from '../../src/signaling/message.ts';
import { Dialog, DialogError, dialogKey, isLooseRoute, tagOf } from '../../src/sip-bridge/dialog.ts';

function msg(lines: string[], body = ''): Buffer {
  const withLength = [...lines, `Content-Length: ${Buffer.byteLength(body)}`];
  return Buffer.from(`${withLength.join('\r\n')}\r\n\r\n${body}`);
}

function request(lines: string[], body = ''): SipRequest {
  const m = parseSipMessage(msg(lines, body));
  if (m.type !== 'request') throw new Error('not a request');
  return m;
}

function response(lines: string[], body = ''): SipResponse {
  const m = parseSipMessage(msg(lines, body));
  if (m.type !== 'response') throw new Error('not a response');
  return m;
}

const SDP = 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n';

/** What JsSIP 3.10 sends (Via host .invalid, Contact with ;ob), after two proxies added Record-Route. */
const JSSIP_INVITE = [
  'INVITE sip:1000@gw.example.com SIP/2.0',
  'Record-Route: <sip:10.0.0.2;transport=udp;lr>',
  'Record-Route: <sip:proxy.example.com;transport=ws;lr;r2=on>',
  'Via: SIP/2.0/WSS 3v5r1k9j0s2c.invalid;branch=z9hG4bK4917262',
  'Max-Forwards: 69',
  'To: <sip:1000@gw.example.com>',
  'From: "Alice Smith" <sip:alice@gw.example.com>;tag=l2ekrfc0rd',
  'Call-ID: q5m5e1sc4u1ifk8p6sqv',
  'CSeq: 8392 INVITE',
  'Contact: <sip:2kbm1l8i@3v5r1k9j0s2c.invalid;transport=ws;ob>',
  'Content-Type: application/sdp',
  'Session-Expires: 90',
  'Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY',
  'Supported: timer,ice,replaces,outbound',
  'User-Agent: JsSIP 3.10.1',
];

const OUR_INVITE = [
  'INVITE sip:+15551234567@trunk.example.net SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKaa11bb22cc33;rport',
  'Max-Forwards: 70',
  'From: "Gateway" <sip:alice@gw.example.com>;tag=9f8e7d6c',
  'To: <sip:+15551234567@trunk.example.net>',
  'Call-ID: 7c3a2b1f0e9d8c7b6a5f4e3d',
  'CSeq: 2 INVITE',
  'Contact: <sip:gw@192.0.2.10:5060>',
];

describe('Dialog.fromUas (§12.1.1)', () => {
  it('takes the route set from Record-Route in order, the target from Contact and the remote CSeq from the INVITE', () => {
    const invite = request(JSSIP_INVITE, SDP);
    const dialog = Dialog.fromUas(invite, 'gwtag1', '<sip:gw@192.0.2.10:8443;transport=ws>');
    expect(dialog.callId).toBe('q5m5e1sc4u1ifk8p6sqv');
    expect(dialog.localTag).toBe('gwtag1');
    expect(dialog.remoteTag).toBe('l2ekrfc0rd');
    expect(dialog.routeSet).toEqual(['<sip:10.0.0.2;transport=udp;lr>', '<sip:proxy.example.com;transport=ws;lr;r2=on>']);
    expect(dialog.remoteTarget).toBe('sip:2kbm1l8i@3v5r1k9j0s2c.invalid;transport=ws;ob');
    expect(dialog.remoteSeq).toBe(8392);
    expect(dialog.localSeq).toBe(0);
    expect(dialog.localUri).toBe('<sip:1000@gw.example.com>');
    expect(dialog.remoteUri).toBe('"Alice Smith" <sip:alice@gw.example.com>');
    expect(dialog.state).toBe('early');
    expect(dialog.id).toBe(dialogKey('q5m5e1sc4u1ifk8p6sqv', 'gwtag1', 'l2ekrfc0rd'));
  });

  it('refuses an INVITE without From tag or without Contact with a 400 DialogError', () => {
    const noTag = request(JSSIP_INVITE.map((l) => (l.startsWith('From:') ? 'From: <sip:alice@gw.example.com>' : l)));
    expect(() => Dialog.fromUas(noTag, 't', '<sip:gw@h>')).toThrow(DialogError);
    const noContact = request(JSSIP_INVITE.filter((l) => !l.startsWith('Contact:')));
    try {
      Dialog.fromUas(noContact, 't', '<sip:gw@h>');
      expect.fail('no throw');
    } catch (error) {
      expect(error).toBeInstanceOf(DialogError);
      expect((error as DialogError).status).toBe(400);
    }
  });
});

describe('Dialog.fromUac (§12.1.2) and the 2xx (§13.2.2.4)', () => {
  const ringing = [
    'SIP/2.0 180 Ringing',
    'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKaa11bb22cc33;rport=5060',
    'Record-Route: <sip:edge2.trunk.example.net;lr>',
    'Record-Route: <sip:edge1.trunk.example.net;lr>',
    'From: "Gateway" <sip:alice@gw.example.com>;tag=9f8e7d6c',
    'To: <sip:+15551234567@trunk.example.net>;tag=as5f3e2c1a',
    'Call-ID: 7c3a2b1f0e9d8c7b6a5f4e3d',
    'CSeq: 2 INVITE',
    'Server: Asterisk PBX 18.20.0',
  ];

  it('makes an early dialog from a 1xx: Record-Route reversed, Request-URI as target until a Contact comes', () => {
    const dialog = Dialog.fromUac(request(OUR_INVITE), response(ringing), '<sip:gw@192.0.2.10:5060>');
    expect(dialog.state).toBe('early');
    expect(dialog.routeSet).toEqual(['<sip:edge1.trunk.example.net;lr>', '<sip:edge2.trunk.example.net;lr>']);
    expect(dialog.remoteTarget).toBe('sip:+15551234567@trunk.example.net');
    expect(dialog.localSeq).toBe(2);
    expect(dialog.remoteSeq).toBeUndefined();
    expect(dialog.remoteTag).toBe('as5f3e2c1a');
    expect(dialog.localUri).toBe('"Gateway" <sip:alice@gw.example.com>');
  });

  it('the 2xx confirms the early dialog and recomputes route set and target from the 2xx', () => {
    const dialog = Dialog.fromUac(request(OUR_INVITE), response(ringing), '<sip:gw@192.0.2.10:5060>');
    const ok = response([
      'SIP/2.0 200 OK',
      'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKaa11bb22cc33;rport=5060',
      'Record-Route: <sip:edge1.trunk.example.net;lr>',
      'From: "Gateway" <sip:alice@gw.example.com>;tag=9f8e7d6c',
      'To: <sip:+15551234567@trunk.example.net>;tag=as5f3e2c1a',
      'Call-ID: 7c3a2b1f0e9d8c7b6a5f4e3d',
      'CSeq: 2 INVITE',
      'Contact: <sip:+15551234567@198.51.100.7:5060>',
    ]);
    dialog.updateFromResponse(ok);
    expect(dialog.state).toBe('confirmed');
    expect(dialog.routeSet).toEqual(['<sip:edge1.trunk.example.net;lr>']);
    expect(dialog.remoteTarget).toBe('sip:+15551234567@198.51.100.7:5060');
  });

  it('a 2xx without Contact is refused', () => {
    const ok = response(ringing.map((l) => (l.startsWith('SIP/2.0') ? 'SIP/2.0 200 OK' : l)));
    expect(() => Dialog.fromUac(request(OUR_INVITE), ok, '<sip:gw@h>')).toThrow(/Contact/);
  });
});

describe('requests inside the dialog (§12.2.1.1)', () => {
  it('loose routing: Request-URI is the remote target, Route the route set, CSeq grows, ACK reuses the INVITE number', () => {
    const dialog = Dialog.fromUas(request(JSSIP_INVITE, SDP), 'gwtag1', '<sip:gw@192.0.2.10:8443;transport=ws>', 'confirmed');
    const bye = dialog.createRequest('BYE');
    expect(bye.uri).toBe('sip:2kbm1l8i@3v5r1k9j0s2c.invalid;transport=ws;ob');
    expect(bye.headers.getAll('route')).toEqual(['<sip:10.0.0.2;transport=udp;lr>', '<sip:proxy.example.com;transport=ws;lr;r2=on>']);
    expect(bye.headers.get('cseq')).toBe('1 BYE');
    expect(bye.headers.get('from')).toBe('<sip:1000@gw.example.com>;tag=gwtag1');
    expect(bye.headers.get('to')).toBe('"Alice Smith" <sip:alice@gw.example.com>;tag=l2ekrfc0rd');
    expect(bye.headers.has('contact')).toBe(false);
    const reinvite = dialog.createRequest('INVITE', { body: SDP });
    expect(reinvite.headers.get('cseq')).toBe('2 INVITE');
    expect(reinvite.headers.get('contact')).toBe('<sip:gw@192.0.2.10:8443;transport=ws>');
    expect(reinvite.headers.get('content-type')).toBe('application/sdp');
    const ack = dialog.createRequest('ACK', { cseq: 2 });
    expect(ack.headers.get('cseq')).toBe('2 ACK');
    expect(dialog.localSeq).toBe(2);
  });

  it('strict routing: the first route becomes the Request-URI (method param and headers stripped), the target goes last', () => {
    const invite = request(OUR_INVITE);
    const ok = response([
      'SIP/2.0 200 OK',
      'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKaa11bb22cc33',
      'Record-Route: <sip:old-proxy.example.net;lr>',
      'Record-Route: <sip:strict.example.net;method=INVITE;maddr=10.1.1.1?x=y>',
      'From: "Gateway" <sip:alice@gw.example.com>;tag=9f8e7d6c',
      'To: <sip:+15551234567@trunk.example.net>;tag=r1',
      'Call-ID: 7c3a2b1f0e9d8c7b6a5f4e3d',
      'CSeq: 2 INVITE',
      'Contact: <sip:ua@198.51.100.7>',
    ]);
    const dialog = Dialog.fromUac(invite, ok, '<sip:gw@192.0.2.10>');
    expect(isLooseRoute(dialog.routeSet[0]!)).toBe(false);
    const bye = dialog.createRequest('BYE');
    expect(bye.uri).toBe('sip:strict.example.net;maddr=10.1.1.1');
    expect(bye.headers.getAll('route')).toEqual(['<sip:old-proxy.example.net;lr>', '<sip:ua@198.51.100.7>']);
  });

  it("a Contact's method param and URI headers stay out of the Request-URI of in-dialog requests (§19.1.1)", () => {
    const ok = response([
      'SIP/2.0 200 OK',
      'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKaa11bb22cc33',
      'From: "Gateway" <sip:alice@gw.example.com>;tag=9f8e7d6c',
      'To: <sip:+15551234567@trunk.example.net>;tag=r1',
      'Call-ID: 7c3a2b1f0e9d8c7b6a5f4e3d',
      'CSeq: 2 INVITE',
      'Contact: <sip:ua@198.51.100.7;transport=udp;method=INVITE?Subject=hi>',
    ]);
    const dialog = Dialog.fromUac(request(OUR_INVITE), ok, '<sip:gw@192.0.2.10>');
    expect(dialog.createRequest('BYE').uri).toBe('sip:ua@198.51.100.7;transport=udp');
  });

  it('an empty route set sends straight to the target without Route', () => {
    const dialog = Dialog.fromUas(request(JSSIP_INVITE.filter((l) => !l.startsWith('Record-Route'))), 't', '<sip:gw@h>', 'confirmed');
    const info = dialog.createRequest('INFO', { body: 'Signal=5\r\nDuration=160\r\n', contentType: 'application/dtmf-relay' });
    expect(info.headers.has('route')).toBe(false);
    expect(info.headers.get('content-type')).toBe('application/dtmf-relay');
  });
});

describe('requests from the peer (§12.2.2)', () => {
  const inDialog = (method: string, cseq: number, extra: string[] = []) =>
    request([
      `${method} sip:gw@192.0.2.10:8443;transport=ws SIP/2.0`,
      'Via: SIP/2.0/WSS 3v5r1k9j0s2c.invalid;branch=z9hG4bK' + cseq + method,
      'Max-Forwards: 70',
      'To: <sip:1000@gw.example.com>;tag=GWTAG1',
      'From: "Alice Smith" <sip:alice@gw.example.com>;tag=l2ekrfc0rd',
      'Call-ID: q5m5e1sc4u1ifk8p6sqv',
      `CSeq: ${cseq} ${method}`,
      ...extra,
    ]);

  it('a lower CSeq is out of order: DialogError 500, and the dialog keeps its state', () => {
    const dialog = Dialog.fromUas(request(JSSIP_INVITE, SDP), 'gwtag1', '<sip:gw@h>', 'confirmed');
    dialog.receiveRequest(inDialog('UPDATE', 8393));
    expect(dialog.remoteSeq).toBe(8393);
    try {
      dialog.receiveRequest(inDialog('INFO', 8000, ['Contact: <sip:moved@elsewhere>']));
      expect.fail('no throw');
    } catch (error) {
      expect(error).toBeInstanceOf(DialogError);
      expect((error as DialogError).status).toBe(500);
    }
    expect(dialog.remoteSeq).toBe(8393);
  });

  it('ACK and CANCEL do not move the remote CSeq', () => {
    const dialog = Dialog.fromUas(request(JSSIP_INVITE, SDP), 'gwtag1', '<sip:gw@h>', 'confirmed');
    dialog.receiveRequest(inDialog('ACK', 8392));
    expect(dialog.remoteSeq).toBe(8392);
  });

  it('a re-INVITE or UPDATE with Contact refreshes the target; BYE and INFO do not', () => {
    const dialog = Dialog.fromUas(request(JSSIP_INVITE, SDP), 'gwtag1', '<sip:gw@h>', 'confirmed');
    dialog.receiveRequest(inDialog('INFO', 8393, ['Contact: <sip:ignored@x.invalid;transport=ws>']));
    expect(dialog.remoteTarget).toBe('sip:2kbm1l8i@3v5r1k9j0s2c.invalid;transport=ws;ob');
    dialog.receiveRequest(inDialog('INVITE', 8394, ['Contact: <sip:new@4w6s2l0k1t3d.invalid;transport=ws;ob>']));
    expect(dialog.remoteTarget).toBe('sip:new@4w6s2l0k1t3d.invalid;transport=ws;ob');
    dialog.receiveRequest(inDialog('UPDATE', 8395, ['Contact: "x" <sip:third@h.invalid>']));
    expect(dialog.remoteTarget).toBe('sip:third@h.invalid');
  });

  it('matches requests on Call-ID and both tags, tags case-insensitively', () => {
    const dialog = Dialog.fromUas(request(JSSIP_INVITE, SDP), 'gwtag1', '<sip:gw@h>', 'confirmed');
    expect(dialog.matchesRequest(inDialog('BYE', 8400))).toBe(true);
    const other = inDialog('BYE', 8400);
    other.headers.set('Call-ID', 'Q5M5E1SC4U1IFK8P6SQV');
    expect(dialog.matchesRequest(other)).toBe(false);
  });

  it('a 2xx to our target refresh moves the target; a 4xx does not', () => {
    const dialog = Dialog.fromUas(request(JSSIP_INVITE, SDP), 'gwtag1', '<sip:gw@h>', 'confirmed');
    const base = ['Via: SIP/2.0/WSS x.invalid;branch=z9hG4bK1', 'From: <sip:a@b>;tag=gwtag1', 'To: <sip:c@d>;tag=l2ekrfc0rd', 'Call-ID: q5m5e1sc4u1ifk8p6sqv', 'CSeq: 1 INVITE', 'Contact: <sip:moved@y.invalid;transport=ws>'];
    dialog.receiveTargetRefreshResponse(response(['SIP/2.0 488 Not Acceptable Here', ...base]));
    expect(dialog.remoteTarget).toBe('sip:2kbm1l8i@3v5r1k9j0s2c.invalid;transport=ws;ob');
    dialog.receiveTargetRefreshResponse(response(['SIP/2.0 200 OK', ...base]));
    expect(dialog.remoteTarget).toBe('sip:moved@y.invalid;transport=ws');
  });
});

describe('tags', () => {
  it('reads the tag of name-addr and addr-spec forms, not one inside a quoted display name', () => {
    expect(tagOf('"a;tag=x" <sip:a@b>;tag=123')).toBe('123');
    expect(tagOf('sip:a@b;tag=abc')).toBe('abc');
    expect(tagOf('<sip:a@b;tag=inuri>')).toBeUndefined();
    expect(tagOf('garbage <')).toBeUndefined();
  });

  it('strips only the header tag from the remote URI of a dialog', () => {
    const invite = request(JSSIP_INVITE.map((l) => (l.startsWith('From:') ? 'From: "Bob;tag=no" <sip:bob@h;tag=uri>;tag=real' : l)), SDP);
    const dialog = Dialog.fromUas(invite, 't', '<sip:gw@h>');
    expect(dialog.remoteTag).toBe('real');
    expect(dialog.remoteUri).toBe('"Bob;tag=no" <sip:bob@h;tag=uri>');
  });
});
