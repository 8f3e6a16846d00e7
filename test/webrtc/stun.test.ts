import { createHmac } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Message, classes, methods, parseMessage } from 'werift-ice';
import {
  encodeBindingError,
  encodeBindingSuccess,
  ipToBytes,
  parseStun,
  STUN_BINDING,
  StunAttribute,
  StunClass,
  StunView,
  verifyMessageIntegrity,
} from '../../src/webrtc/stun.ts';

/** RFC 5769 §2 test vectors (short-term credentials). */
const PASSWORD = Buffer.from('VOkJxbRl1RmTxUk/WvJxBt');
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const SAMPLE_REQUEST = hex(`
  00010058 2112a442 b7e7a701 bc34d686 fa87dfae
  80220010 5354554e 20746573 7420636c 69656e74
  00240004 6e0001ff
  80290008 932ff9b1 51263b36
  00060009 6576746a 3a683676 59202020
  00080014 9aeaa70c bfd8cb56 781ef2b5 b2d3f249 c1b571a2
  80280004 e57a3bcf`);
const SAMPLE_IPV4_RESPONSE = hex(`
  0101003c 2112a442 b7e7a701 bc34d686 fa87dfae
  8022000b 74657374 20766563 746f7220
  00200008 0001a147 e112a643
  00080014 2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7
  80280004 c07d4c96`);
const SAMPLE_IPV6_RESPONSE = hex(`
  01010048 2112a442 b7e7a701 bc34d686 fa87dfae
  8022000b 74657374 20766563 746f7220
  00200014 0002a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9
  00080014 a382954e 4be67bf1 1784c97c 8292c275 bfe3ed41
  80280004 c8fb0b4c`);

/** An independent encoder for requests werift-ice cannot produce (it appends raw attributes after FINGERPRINT). */
function buildRequest(attributes: Array<[number, Buffer]>, key: Buffer): Buffer {
  const tlv = (type: number, value: Buffer): Buffer => {
    const out = Buffer.alloc(4 + ((value.length + 3) & ~3));
    out.writeUInt16BE(type, 0);
    out.writeUInt16BE(value.length, 2);
    value.copy(out, 4);
    return out;
  };
  const header = hex('0001 0000 2112a442 0102030405060708090a0b0c');
  let message = Buffer.concat([header, ...attributes.map(([type, value]) => tlv(type, value))]);
  message.writeUInt16BE(message.length - 20 + 24, 2);
  message = Buffer.concat([message, tlv(0x0008, createHmac('sha1', key).update(message).digest())]);
  message.writeUInt16BE(message.length - 20 + 8, 2);
  const fingerprint = Buffer.alloc(4);
  fingerprint.writeUInt32BE((crc32(message) ^ 0x5354554e) >>> 0);
  return Buffer.concat([message, tlv(0x8028, fingerprint)]);
}

function attribute(buf: Buffer, type: number): Buffer | undefined {
  for (let pos = 20; pos + 4 <= buf.length; ) {
    const length = buf.readUInt16BE(pos + 2);
    if (buf.readUInt16BE(pos) === type) return buf.subarray(pos, pos + 4 + length);
    pos += 4 + ((length + 3) & ~3);
  }
  return undefined;
}

describe('STUN codec against the RFC 5769 vectors', () => {
  it('parses the sample request: USERNAME without padding, PRIORITY, ICE-CONTROLLED, valid FINGERPRINT and integrity', () => {
    const view = new StunView();
    expect(parseStun(SAMPLE_REQUEST, view)).toBe('ok');
    expect(view.method).toBe(STUN_BINDING);
    expect(view.messageClass).toBe(StunClass.Request);
    expect(SAMPLE_REQUEST.toString('utf8', view.usernameOffset, view.usernameOffset + view.usernameLength)).toBe('evtj:h6vY');
    expect(view.priority).toBe(0x6e0001ff);
    expect(view.iceControlled).toBe(true);
    expect(view.iceControlling).toBe(false);
    expect(view.unknownRequired).toEqual([]);
    expect(verifyMessageIntegrity(SAMPLE_REQUEST, view, PASSWORD)).toBe(true);
    expect(verifyMessageIntegrity(SAMPLE_REQUEST, view, Buffer.from('VOkJxbRl1RmTxUk/WvJxBu'))).toBe(false);
  });

  it.each([
    ['IPv4', SAMPLE_IPV4_RESPONSE, '192.0.2.1'],
    ['IPv6', SAMPLE_IPV6_RESPONSE, '2001:db8:1234:5678:11:2233:4455:6677'],
  ])('writes the same XOR-MAPPED-ADDRESS as the %s sample response, with integrity werift-ice accepts', (_family, vector, ip) => {
    const view = new StunView();
    expect(parseStun(vector, view)).toBe('ok');
    expect(verifyMessageIntegrity(vector, view, PASSWORD)).toBe(true);

    const ours = encodeBindingSuccess(SAMPLE_REQUEST, ipToBytes(ip)!, 32853, PASSWORD);
    expect(attribute(ours, StunAttribute.XorMappedAddress)).toEqual(attribute(vector, StunAttribute.XorMappedAddress));
    expect(ours.subarray(8, 20)).toEqual(SAMPLE_REQUEST.subarray(8, 20));
    const decoded = parseMessage(ours, PASSWORD);
    expect(decoded).toBeDefined();
    expect(decoded!.messageClass).toBe(classes.RESPONSE);
    expect(decoded!.getAttributeValue('XOR-MAPPED-ADDRESS')).toEqual([ip, 32853]);
    expect(parseStun(ours, new StunView())).toBe('ok');
  });

  it('discards a message whose FINGERPRINT is wrong or missing (RFC 5389 §7.3, RFC 8445 §7.3)', () => {
    const tampered = Buffer.from(SAMPLE_REQUEST);
    tampered[tampered.length - 1]! ^= 1;
    expect(parseStun(tampered, new StunView())).toBe('bad-fingerprint');
    const noFingerprint = Buffer.from(SAMPLE_REQUEST.subarray(0, SAMPLE_REQUEST.length - 8));
    noFingerprint.writeUInt16BE(noFingerprint.length - 20, 2);
    expect(parseStun(noFingerprint, new StunView())).toBe('no-fingerprint');
  });

  it('rejects truncated and inconsistent messages without throwing', () => {
    const view = new StunView();
    for (let length = 0; length < SAMPLE_REQUEST.length; length++) {
      expect(parseStun(SAMPLE_REQUEST.subarray(0, length), view)).not.toBe('ok');
    }
    const badLength = Buffer.from(SAMPLE_REQUEST);
    badLength.writeUInt16BE(0x58 + 4, 2);
    expect(parseStun(badLength, view)).toBe('malformed');
    const overrun = Buffer.from(SAMPLE_REQUEST);
    overrun.writeUInt16BE(0x0100, 22); // SOFTWARE length past the end
    expect(parseStun(overrun, view)).toBe('malformed');
    expect(parseStun(Buffer.from('not a stun message at all'), view)).toBe('not-stun');
  });

  it('parses a Binding request werift-ice encodes, including USE-CANDIDATE and ICE-CONTROLLING', () => {
    const key = Buffer.from('abcdefghijklmnopqrstuv');
    const request = new Message(methods.BINDING, classes.REQUEST)
      .setAttribute('USERNAME', 'gwUfrag:brUfrag')
      .setAttribute('PRIORITY', 1853824767)
      .setAttribute('ICE-CONTROLLING', 0x0102030405060708n)
      .setAttribute('USE-CANDIDATE', null)
      .addMessageIntegrity(key)
      .addFingerprint().bytes;
    const view = new StunView();
    expect(parseStun(request, view)).toBe('ok');
    expect(view.useCandidate).toBe(true);
    expect(view.iceControlling).toBe(true);
    expect(view.priority).toBe(1853824767);
    expect(verifyMessageIntegrity(request, view, key)).toBe(true);
  });

  it('collects unknown comprehension-required attributes and ignores unknown optional ones', () => {
    const key = Buffer.from('abcdefghijklmnopqrstuv');
    const request = buildRequest(
      [
        [StunAttribute.Username, Buffer.from('a:b')],
        [0x7777, Buffer.from([1, 2, 3, 4])],
        [0xc057, Buffer.from([0, 1, 0, 0])], // Chrome's GOOG-NETWORK-INFO
      ],
      key,
    );
    const view = new StunView();
    expect(parseStun(request, view)).toBe('ok');
    expect(view.unknownRequired).toEqual([0x7777]);
    expect(verifyMessageIntegrity(request, view, key)).toBe(true);
  });

  it('error responses carry ERROR-CODE, and MESSAGE-INTEGRITY only when the request authenticated (RFC 5389 §10.1.2)', () => {
    const unauthorized = encodeBindingError(SAMPLE_REQUEST, 401);
    const view = new StunView();
    expect(parseStun(unauthorized, view)).toBe('ok');
    expect(view.messageClass).toBe(StunClass.ErrorResponse);
    expect(view.integrityOffset).toBe(-1);
    expect(parseMessage(unauthorized)!.getAttributeValue('ERROR-CODE')).toEqual([401, 'Unauthorized']);

    const unknown = encodeBindingError(SAMPLE_REQUEST, 420, PASSWORD, [0x7777, 0x0033]);
    const decoded = parseMessage(unknown, PASSWORD);
    expect(decoded!.getAttributeValue('ERROR-CODE')).toEqual([420, 'Unknown Attribute']);
    expect(attribute(unknown, StunAttribute.UnknownAttributes)!.subarray(4)).toEqual(hex('77770033'));
  });

  it('maps IPv4-mapped IPv6 sources to IPv4 and expands compressed IPv6', () => {
    expect(ipToBytes('::ffff:127.0.0.1')).toEqual({ family: 4, bytes: Buffer.from([127, 0, 0, 1]) });
    expect(ipToBytes('::1')!.bytes).toEqual(hex('00000000000000000000000000000001'));
    expect(ipToBytes('fe80::1%eth0')!.bytes).toEqual(hex('fe800000000000000000000000000001'));
    expect(ipToBytes('not-an-ip')).toBeUndefined();
  });
});
