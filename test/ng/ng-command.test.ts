import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { decodeBencode } from '../../src/ng/bencode.ts';
import type { BencodeDict } from '../../src/ng/bencode.ts';
import { NgError } from '../../src/ng/errors.ts';
import { decodeNgBody, parseNgCommand, splitCookie } from '../../src/ng/ng-message.ts';
import type { NgCommand } from '../../src/ng/ng-message.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/ng/${name}`, import.meta.url));
const sdpFixture = (name: string) => {
  const text = readFileSync(new URL(`../fixtures/sdp/${name}`, import.meta.url), 'utf8');
  return text.slice(text.indexOf('v=0')).split(/\r?\n/).filter((l) => l !== '').join('\r\n') + '\r\n';
};

/** A fixture datagram → its cookie and the command parsed from it. */
function kamailio(name: string): { cookie: string; command: NgCommand } {
  const { cookie, body } = splitCookie(fixture(name));
  const { dict, format } = decodeNgBody(body);
  expect(format).toBe('bencode');
  return { cookie: cookie.toString('latin1'), command: parseNgCommand(dict) };
}

function parse(dict: Record<string, unknown>, options?: Parameters<typeof parseNgCommand>[1]): NgCommand {
  return parseNgCommand(dict as BencodeDict, options);
}

function ngError(dict: Record<string, unknown>): NgError {
  try {
    parse(dict);
  } catch (err) {
    expect(err).toBeInstanceOf(NgError);
    return err as NgError;
  }
  throw new Error('parsed without error');
}

const CALL = '3c2a5f1e8b7d4a09@203.0.113.20';
type OfferCommand = Extract<NgCommand, { command: 'offer' }>;
function asOffer(cmd: NgCommand): OfferCommand {
  if (cmd.command !== 'offer') throw new Error(`expected an offer, got ${cmd.command}`);
  return cmd;
}
const offer = (extra: Record<string, unknown>) =>
  asOffer(parse({ command: 'offer', 'call-id': 'c1', 'from-tag': 'f1', sdp: sdpFixture('asterisk-offer.sdp'), ...extra }));

// The fixtures reproduce what kamailio/src/modules/rtpengine/rtpengine.c (rtpp_function_call, parse_flags,
// parse_from_to_tags) sends; see test/fixtures/ng/README.md.
describe('parseNgCommand on what Kamailio sends', () => {
  it('rtpengine_offer("ICE=force DTLS=passive RTP/SAVPF replace-origin replace-session-connection") → an offer to a WebRTC leg, no warnings', () => {
    const { cookie, command } = kamailio('kamailio-offer-to-webrtc.bencode');
    expect(cookie).toBe('0_1804289383_0');
    expect(command).toEqual({
      command: 'offer',
      callId: CALL,
      fromTag: 'as5f2c8e1a',
      toTag: undefined,
      viaBranch: undefined,
      sdp: sdpFixture('asterisk-offer.sdp'),
      flags: { to: 'webrtc' },
      warnings: [],
    });
  });

  it('rtpengine_answer("ICE=remove RTP/AVP") on the browser 200 OK → an answer whose offerer must be plain', () => {
    const { command } = kamailio('kamailio-answer-from-webrtc.bencode');
    expect(command).toEqual({
      command: 'answer',
      callId: CALL,
      fromTag: 'as5f2c8e1a',
      toTag: 'k9nq2wdq5u',
      viaBranch: undefined,
      sdp: sdpFixture('chromium-answer.sdp'),
      flags: {},
      offererKind: 'plain',
      warnings: [],
    });
  });

  it('rtpengine_manage() on INVITE / 200 OK / BYE → offer (kind from the SDP), answer, delete', () => {
    const o = kamailio('kamailio-manage-offer.bencode').command;
    expect(o).toMatchObject({ command: 'offer', callId: CALL, fromTag: 'as5f2c8e1a', flags: { to: 'plain' }, warnings: [] });
    const a = kamailio('kamailio-manage-answer.bencode').command;
    expect(a).toEqual({
      command: 'answer',
      callId: CALL,
      fromTag: 'as5f2c8e1a',
      toTag: 'k9nq2wdq5u',
      viaBranch: undefined,
      sdp: sdpFixture('sipp-uas-answer.sdp'),
      flags: {},
      offererKind: undefined,
      warnings: [],
    });
    const d = kamailio('kamailio-manage-delete.bencode').command;
    expect(d).toEqual({
      command: 'delete',
      callId: CALL,
      fromTag: 'as5f2c8e1a',
      toTag: undefined,
      viaBranch: undefined,
      fatal: false,
      fast: false,
      warnings: [],
    });
  });

  it('rtpengine_offer(flags, "auto") → rtpp-flags parsed here as rtpengine does', () => {
    const { command } = kamailio('kamailio-offer-rtpp-flags.bencode');
    expect(command).toMatchObject({
      command: 'offer',
      viaBranch: 'z9hG4bK776asdhds',
      flags: { to: 'webrtc', codecs: { strip: ['G729'] }, strictSource: true, label: 'callee' },
      warnings: [],
    });
  });

  it("the module's ping", () => {
    expect(kamailio('kamailio-ping.bencode')).toEqual({ cookie: '0_719885386_6', command: { command: 'ping', warnings: [] } });
  });
});

describe('offer/answer options', () => {
  it('maps transport-protocol to the receiving leg kind', () => {
    expect(offer({ 'transport-protocol': 'UDP/TLS/RTP/SAVPF' })).toMatchObject({ flags: { to: 'webrtc' }, warnings: [] });
    expect(offer({ 'transport protocol': 'RTP/AVP' })).toMatchObject({ flags: { to: 'plain' }, warnings: [] });
    expect(offer({ 'transport-protocol': 'RTP/SAVPF' })).toMatchObject({ flags: { to: 'webrtc' }, warnings: [] });
    expect(offer({ 'transport-protocol': 'RTP/AVPF' }).warnings).toEqual(['transport-protocol RTP/AVPF: plain legs use RTP/AVP']);
    expect(() => offer({ 'transport-protocol': 'UDP/BFCP' })).toThrow(/Unsupported transport protocol/);
    expect(() => offer({ 'transport-protocol': 'RTP/SAVP', DTLS: 'off' })).toThrow(/SDES-SRTP is not supported/);
  });

  it('uses ICE=force / ICE=remove / the WebRTC flag when there is no transport-protocol', () => {
    expect(offer({ ICE: 'force' }).flags).toEqual({ to: 'webrtc' });
    expect(offer({ ICE: ['force'] }).flags).toEqual({ to: 'webrtc' });
    expect(offer({ flags: ['WebRTC'] }).flags).toEqual({ to: 'webrtc' });
    const fromWebrtc = parse({ command: 'offer', 'call-id': 'c', 'from-tag': 'f', sdp: sdpFixture('chromium-offer.sdp'), ICE: 'remove' });
    expect(fromWebrtc).toMatchObject({ flags: { to: 'plain' }, warnings: [] });
    // No hint at all: the receiving side gets the transport the SDP has (rtpengine's default).
    expect(asOffer(parse({ command: 'offer', 'call-id': 'c', 'from-tag': 'f', sdp: sdpFixture('chromium-offer.sdp') })).flags).toEqual({ to: 'webrtc' });
  });

  it('warns about transport hints that contradict each other instead of guessing', () => {
    expect(offer({ 'transport-protocol': 'RTP/AVP', ICE: 'force' })).toMatchObject({
      flags: { to: 'plain' },
      warnings: ['ICE=force ignored: plain RTP legs do not use ICE'],
    });
    expect(offer({ 'transport-protocol': 'UDP/TLS/RTP/SAVPF', ICE: 'remove', DTLS: 'no' }).warnings).toEqual([
      'ICE=remove ignored: WebRTC legs need ICE',
      'DTLS=no ignored: WebRTC legs need DTLS-SRTP',
    ]);
  });

  it('accepts silently what we always do, and says what it cannot do', () => {
    const cmd = offer({
      ICE: 'force',
      DTLS: 'passive',
      SDES: ['off'],
      'rtcp-mux': ['offer', 'require'],
      replace: ['origin', 'session-connection', 'SDP-version', 'username', 'session name'],
      flags: ['generate mid', 'symmetric', 'port-latching', 'trust-address', 'strict source'],
      'ICE-lite': 'forward',
      'DTLS-fingerprint': 'SHA-256',
      'record call': 'no',
    });
    expect(cmd).toMatchObject({ flags: { to: 'webrtc', trustAddress: true, strictSource: true }, warnings: [] });
    const noisy = offer({
      ICE: ['force', 'trickle'],
      DTLS: 'active',
      SDES: ['no-NULL_HMAC_SHA1_32'],
      'rtcp-mux': ['reject'],
      replace: ['zero address'],
      flags: ['trickle ICE', 'loop-protect', 'no such flag', 'OSRTP-offer'],
      ptime: 20,
      'x-custom': 'y',
    });
    expect(noisy.warnings).toEqual([
      'ICE=trickle not supported, ignored',
      'DTLS=active not supported: the gateway takes the DTLS role the peer leaves it',
      'SDES no-NULL_HMAC_SHA1_32 not supported (no SDES-SRTP), ignored',
      'rtcp-mux reject not supported towards a webrtc leg, ignored',
      'replace zero address not supported, ignored',
      "key 'ptime' not supported, ignored",
      "unknown key 'x-custom', ignored",
      "flag 'trickle ICE' not supported, ignored",
      "flag 'loop-protect' not supported, ignored",
      "flag 'no such flag' not supported, ignored",
      "flag 'osrtp-offer' not supported, ignored",
    ]);
  });

  it('maps codec strip/mask/except onto the media API codec flags', () => {
    expect(offer({ codec: { strip: ['G729', 'PCMA'], mask: ['opus'] } }).flags.codecs).toEqual({ strip: ['G729', 'PCMA', 'opus'] });
    expect(offer({ flags: ['codec-strip-G729', 'codec-mask-PCMA'] }).flags.codecs).toEqual({ strip: ['G729', 'PCMA'] });
    expect(offer({ codec: { strip: ['all'], except: ['PCMU', 'telephone-event'] } }).flags.codecs).toEqual({
      allow: ['PCMU', 'telephone-event'],
    });
    const stripAll = offer({ codec: { strip: ['all'] } });
    expect(stripAll.flags.codecs).toBeUndefined();
    expect(stripAll.warnings).toEqual(['codec strip all without codec offer/except would leave no codec, ignored']);
    expect(offer({ codec: { transcode: ['G722'], set: ['opus/48000/2/32000'] } }).warnings).toEqual([
      'codec transcode G722 not supported (no transcoding), ignored',
      'codec set opus/48000/2/32000 not supported, ignored',
    ]);
  });

  it('latching flags: asymmetric trusts the SDP address, media handover lifts strict source', () => {
    expect(offer({ flags: ['asymmetric'] }).flags).toMatchObject({ trustAddress: true });
    expect(offer({ flags: ['media handover'] }).flags).toMatchObject({ strictSource: false });
    expect(offer({ label: 'caller' }).flags).toMatchObject({ label: 'caller' });
  });

  it('checks direction interfaces against the configured ones', () => {
    const options = { interfaces: ['pub'] };
    expect(parse({ command: 'offer', 'call-id': 'c', 'from-tag': 'f', sdp: 'v=0', direction: ['pub', 'pub'] }, options).warnings).not.toContain(
      'unknown interface "pub", ignored',
    );
    expect(parse({ command: 'offer', 'call-id': 'c', 'from-tag': 'f', sdp: 'v=0', direction: ['priv', 'pub'] }, options).warnings).toContain(
      'unknown interface "priv", ignored',
    );
  });

  it('refuses trickle ICE SDP fragments rather than treating them as an offer', () => {
    expect(ngError({ command: 'offer', 'call-id': 'c', 'from-tag': 'f', sdp: 'a=candidate:1', flags: ['fragment'] }).code).toBe('NG_UNSUPPORTED');
  });
});

describe('bad dictionaries', () => {
  it.each([
    [{}, 'Dictionary contains no key "command"'],
    [{ command: 'offer', 'from-tag': 'f', sdp: 'v=0' }, 'No "call-id" in message'],
    [{ command: 'offer', 'call-id': 'c', sdp: 'v=0' }, 'No "from-tag" in message'],
    [{ command: 'offer', 'call-id': 'c', 'from-tag': 'f' }, 'No "sdp" in message'],
    [{ command: 'answer', 'call-id': 'c', 'from-tag': 'f', sdp: 'v=0' }, 'No "to-tag" in message'],
    [{ command: 'offer', 'call-id': ['c'], 'from-tag': 'f', sdp: 'v=0' }, '"call-id" must be a string'],
    [{ command: 'offer', 'call-id': 'c', 'from-tag': 'f', sdp: Buffer.from([0xff]) }, '"sdp" must be UTF-8 text'],
    [{ command: 'offer', 'call-id': 'c', 'from-tag': 'f', sdp: 'v=0', flags: 'x' }, ''],
    [{ command: 'offer', 'call-id': 'c', 'from-tag': 'f', sdp: 'v=0', flags: [{}] }, '"flags" must be a list of strings'],
    [{ command: 'offer', 'call-id': 'c', 'from-tag': 'f', sdp: 'v=0', codec: ['strip'] }, '"codec" must be a dictionary'],
    [{ command: 'list', limit: 'many' }, '"limit" must be an integer'],
    [{ command: 'list', limit: 0 }, '"limit" must be > 0'],
    [{ command: 'play DTMF', 'call-id': 'c', 'from-tag': 'f', code: 'X' }, 'Invalid DTMF code "X"'],
    [{ command: 'play DTMF', 'call-id': 'c', code: '1' }, 'No "from-tag" in message'],
  ])('%j → %s', (dict, message) => {
    if (message === '') {
      // A single string where a list is expected is a list of one (rtpengine allows it): no error.
      expect(parse(dict).warnings).toContain("flag 'x' not supported, ignored");
      return;
    }
    const err = ngError(dict);
    expect(err.code).toBe('NG_INVALID');
    expect(err.message).toBe(message);
  });

  it('tells unknown commands from rtpengine commands we do not carry out', () => {
    expect(ngError({ command: 'frobnicate' })).toMatchObject({ code: 'NG_UNKNOWN_COMMAND', message: 'Unrecognized command' });
    expect(ngError({ command: 'block DTMF', 'call-id': 'c' })).toMatchObject({ code: 'NG_UNSUPPORTED' });
    expect(parse({ command: 'play media', 'call-id': 'c', file: '/tmp/x.wav' })).toEqual({ command: 'play media', callId: 'c', warnings: [] });
  });
});

describe('other commands', () => {
  it('delete: fatal, fast and a delete delay', () => {
    expect(parse({ command: 'delete', 'call-id': 'c', flags: ['fatal', 'fast'], 'delete delay': 0 })).toMatchObject({
      fatal: true,
      fast: true,
      warnings: [],
    });
    expect(parse({ command: 'delete', 'call-id': 'c', 'delete-delay': '30' }).warnings).toEqual([
      'delete delay 30 not supported: deleted at once',
    ]);
  });

  it('block media honours from-tag only with the directional flag (as rtpengine)', () => {
    expect(parse({ command: 'block media', 'call-id': 'c', 'from-tag': 'f' })).toMatchObject({ tag: undefined, warnings: [] });
    expect(parse({ command: 'unblock media', 'call-id': 'c', 'from-tag': 'f', flags: ['directional'] })).toMatchObject({
      command: 'unblock media',
      tag: 'f',
      warnings: [],
    });
    expect(ngError({ command: 'block media', 'call-id': 'c', label: 'callee' }).code).toBe('NG_UNSUPPORTED');
  });

  it('play DTMF: code as integer, digit string or numeric string; duration clamped to 100-5000 ms', () => {
    const base = { command: 'play DTMF', 'call-id': 'c', 'from-tag': 'f' };
    expect(parse({ ...base, code: 11 })).toMatchObject({ digit: '#', durationMs: 250 });
    expect(parse({ ...base, digit: '*', duration: 40 })).toMatchObject({ digit: '*', durationMs: 100 });
    expect(parse({ ...base, code: 'd', duration: '9000' })).toMatchObject({ digit: 'D', durationMs: 5000 });
    expect(parse({ ...base, code: '10', volume: -10 })).toMatchObject({
      digit: '*',
      warnings: ['volume not supported: RFC 4733 events carry the default volume'],
    });
  });

  it('list: default limit 32', () => {
    expect(parse({ command: 'list' })).toEqual({ command: 'list', limit: 32, warnings: [] });
  });
});

describe('JSON bodies', () => {
  it('decode to the same command as bencode', () => {
    const { dict, format } = decodeNgBody(Buffer.from('{"command":"offer","call-id":"c","from-tag":"f","sdp":"v=0","ICE":"force","flags":["trust address"]}'));
    expect(format).toBe('json');
    expect(parseNgCommand(dict)).toMatchObject({ command: 'offer', flags: { to: 'webrtc', trustAddress: true } });
  });

  it('reject what bencode cannot express', () => {
    expect(() => decodeNgBody(Buffer.from('{"command":"list","limit":1.5}'))).toThrow(NgError);
    expect(() => decodeNgBody(Buffer.from('{"command":true}'))).toThrow(NgError);
    expect(() => decodeNgBody(Buffer.from('{"command":'))).toThrow(/Failed to parse JSON/);
    expect(() => decodeNgBody(Buffer.from('{"a":' + '['.repeat(100) + ']'.repeat(100) + '}'))).toThrow(/nested deeper/);
  });
});

describe('framing', () => {
  it('splits the cookie at the first space', () => {
    const { cookie, body } = splitCookie(Buffer.from('5323_1 d7:command4:pinge'));
    expect(cookie.toString()).toBe('5323_1');
    expect(decodeBencode(body)).toEqual({ command: 'ping' });
  });

  it.each(['d7:command4:pinge', ' d7:command4:pinge', `${'x'.repeat(300)} de`])('no usable cookie in %j → NG_FRAMING', (text) => {
    expect(() => splitCookie(Buffer.from(text))).toThrow(expect.objectContaining({ code: 'NG_FRAMING' }));
  });

  it('tolerates a trailing newline but nothing else after the dictionary', () => {
    expect(decodeNgBody(Buffer.from('d7:command4:pinge\r\n')).dict).toEqual({ command: 'ping' });
    expect(() => decodeNgBody(Buffer.from('d7:command4:pingexyz'))).toThrow(/trailing bytes/);
    expect(() => decodeNgBody(Buffer.from(''))).toThrow(/no payload/);
    expect(() => decodeNgBody(Buffer.from('l4:pinge'))).toThrow(/Invalid NG data format/);
  });
});
