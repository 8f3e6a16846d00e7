import { createHmac, timingSafeEqual } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { crc32 } from 'node:zlib';

/**
 * The slice of STUN (RFC 5389, with the ICE attributes of RFC 8445 §16.1) an ICE-lite agent needs: parse a
 * Binding request in place and build Binding success / error responses.
 *
 * Why not werift-ice's `parseMessage`/`Message`: it decodes every attribute into fresh objects and runs the
 * CRC and the HMAC while walking, before the caller can look at USERNAME, and its serializer rebuilds the
 * whole message several times per MESSAGE-INTEGRITY. A lite agent on a public address must drop a flood of
 * requests with unknown credentials cheaply, so this parser only records offsets into a reusable `StunView`;
 * the FINGERPRINT (a native CRC-32) is checked first, the USERNAME compared byte-wise, and the HMAC is computed
 * only for a request that names our ufrag. werift-ice's codec is still used by the tests as an independent
 * encoder/decoder to cross-check this one.
 */

export const STUN_HEADER_LENGTH = 20;
export const STUN_MAGIC_COOKIE = 0x2112a442;
const FINGERPRINT_XOR = 0x5354554e; // "STUN", RFC 5389 §15.5
const INTEGRITY_LENGTH = 20; // HMAC-SHA1, RFC 5389 §15.4

export const STUN_BINDING = 0x0001;

/** The class bits of the message type (C1 at bit 8, C0 at bit 4), RFC 5389 §6. */
export const StunClass = {
  Request: 0x0000,
  Indication: 0x0010,
  SuccessResponse: 0x0100,
  ErrorResponse: 0x0110,
} as const;

export const StunAttribute = {
  MappedAddress: 0x0001,
  Username: 0x0006,
  MessageIntegrity: 0x0008,
  ErrorCode: 0x0009,
  UnknownAttributes: 0x000a,
  Realm: 0x0014,
  Nonce: 0x0015,
  MessageIntegritySha256: 0x001c, // RFC 8489 §14.6
  PasswordAlgorithm: 0x001d,
  Userhash: 0x001e,
  XorMappedAddress: 0x0020,
  Priority: 0x0024, // RFC 8445 §16.1
  UseCandidate: 0x0025,
  Fingerprint: 0x8028,
  IceControlled: 0x8029,
  IceControlling: 0x802a,
} as const;

/** Comprehension-required attributes (type < 0x8000) this agent understands; any other one triggers 420 (RFC 5389 §7.3.1). */
const KNOWN_REQUIRED = new Set<number>([
  StunAttribute.MappedAddress,
  StunAttribute.Username,
  StunAttribute.MessageIntegrity,
  StunAttribute.ErrorCode,
  StunAttribute.UnknownAttributes,
  StunAttribute.Realm,
  StunAttribute.Nonce,
  StunAttribute.MessageIntegritySha256,
  StunAttribute.PasswordAlgorithm,
  StunAttribute.Userhash,
  StunAttribute.XorMappedAddress,
  StunAttribute.Priority,
  StunAttribute.UseCandidate,
]);

/** A reusable, allocation-free view of one parsed message: offsets into the buffer it was parsed from. */
export class StunView {
  method = 0;
  messageClass = 0;
  /** Offset of the USERNAME value, or -1. */
  usernameOffset = -1;
  usernameLength = 0;
  /** Offset of the MESSAGE-INTEGRITY attribute header, or -1. */
  integrityOffset = -1;
  /** Offset of the FINGERPRINT attribute header, or -1. */
  fingerprintOffset = -1;
  priority = -1;
  useCandidate = false;
  iceControlling = false;
  iceControlled = false;
  /** Unknown comprehension-required attribute types, in order of appearance (reused array). */
  readonly unknownRequired: number[] = [];

  reset(): void {
    this.method = 0;
    this.messageClass = 0;
    this.usernameOffset = -1;
    this.usernameLength = 0;
    this.integrityOffset = -1;
    this.fingerprintOffset = -1;
    this.priority = -1;
    this.useCandidate = false;
    this.iceControlling = false;
    this.iceControlled = false;
    this.unknownRequired.length = 0;
  }
}

/**
 * 'ok', or why the message is silently discarded (RFC 5389 §7.3: a message that fails the basic checks or the
 * FINGERPRINT check is discarded; RFC 8445 §7.3: ICE agents MUST use FINGERPRINT, so a missing one fails too).
 */
export type StunParseResult = 'ok' | 'not-stun' | 'malformed' | 'no-fingerprint' | 'bad-fingerprint';

export function parseStun(buf: Buffer, view: StunView): StunParseResult {
  view.reset();
  const length = buf.length;
  // RFC 5389 §6: two leading zero bits, magic cookie, body length a multiple of 4 that matches the datagram.
  if (length < STUN_HEADER_LENGTH || (buf[0]! & 0xc0) !== 0 || buf.readUInt32BE(4) !== STUN_MAGIC_COOKIE) return 'not-stun';
  const bodyLength = buf.readUInt16BE(2);
  if ((bodyLength & 3) !== 0 || bodyLength + STUN_HEADER_LENGTH !== length) return 'malformed';
  const type = buf.readUInt16BE(0);
  view.messageClass = type & 0x0110;
  view.method = (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2);

  let pos = STUN_HEADER_LENGTH;
  while (pos < length) {
    if (pos + 4 > length) return 'malformed';
    if (view.fingerprintOffset !== -1) return 'malformed'; // RFC 5389 §15.5: FINGERPRINT is the last attribute
    const attrType = buf.readUInt16BE(pos);
    const attrLength = buf.readUInt16BE(pos + 2);
    const valueOffset = pos + 4;
    const next = valueOffset + ((attrLength + 3) & ~3);
    if (next > length) return 'malformed';

    if (attrType === StunAttribute.Fingerprint) {
      if (attrLength !== 4) return 'malformed';
      view.fingerprintOffset = pos;
    } else if (view.integrityOffset !== -1) {
      // RFC 5389 §15.4: attributes after MESSAGE-INTEGRITY other than FINGERPRINT are ignored.
    } else {
      switch (attrType) {
        case StunAttribute.Username:
          if (view.usernameOffset === -1) {
            if (attrLength > 512) return 'malformed'; // RFC 5389 §15.3: less than 513 bytes
            view.usernameOffset = valueOffset;
            view.usernameLength = attrLength;
          }
          break;
        case StunAttribute.MessageIntegrity:
          if (attrLength !== INTEGRITY_LENGTH) return 'malformed';
          view.integrityOffset = pos;
          break;
        case StunAttribute.Priority:
          if (attrLength !== 4) return 'malformed';
          if (view.priority === -1) view.priority = buf.readUInt32BE(valueOffset);
          break;
        case StunAttribute.UseCandidate:
          view.useCandidate = true;
          break;
        case StunAttribute.IceControlling:
          view.iceControlling = true;
          break;
        case StunAttribute.IceControlled:
          view.iceControlled = true;
          break;
        default:
          if (attrType < 0x8000 && !KNOWN_REQUIRED.has(attrType) && view.unknownRequired.length < 16) {
            view.unknownRequired.push(attrType);
          }
      }
    }
    pos = next;
  }

  if (view.fingerprintOffset === -1) return 'no-fingerprint';
  const expected = buf.readUInt32BE(view.fingerprintOffset + 4);
  const actual = (crc32(buf.subarray(0, view.fingerprintOffset)) ^ FINGERPRINT_XOR) >>> 0;
  return actual === expected ? 'ok' : 'bad-fingerprint';
}

const lengthScratch = Buffer.alloc(2);

/**
 * RFC 5389 §15.4: HMAC-SHA1 keyed with the short-term password over the message up to MESSAGE-INTEGRITY, with
 * the header length adjusted to end at MESSAGE-INTEGRITY (a FINGERPRINT after it is excluded). The buffer is not
 * modified; the comparison is constant-time.
 */
export function verifyMessageIntegrity(buf: Buffer, view: StunView, key: Buffer): boolean {
  const mi = view.integrityOffset;
  if (mi === -1) return false;
  const hmac = createHmac('sha1', key);
  hmac.update(buf.subarray(0, 2));
  lengthScratch.writeUInt16BE(mi + 4 + INTEGRITY_LENGTH - STUN_HEADER_LENGTH, 0);
  hmac.update(lengthScratch);
  hmac.update(buf.subarray(4, mi));
  return timingSafeEqual(hmac.digest(), buf.subarray(mi + 4, mi + 4 + INTEGRITY_LENGTH));
}

/** An IP address as STUN carries it (family 0x01/0x02, RFC 5389 §15.1). */
export interface IpBytes {
  family: 4 | 6;
  bytes: Buffer;
}

/** Parses a textual IP (as dgram reports it) to bytes; IPv4-mapped IPv6 is reported as the IPv4 it is. */
export function ipToBytes(address: string): IpBytes | undefined {
  const zone = address.indexOf('%');
  const text = zone === -1 ? address : address.slice(0, zone);
  if (isIPv4(text)) return { family: 4, bytes: Buffer.from(text.split('.').map(Number)) };
  if (!isIPv6(text)) return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(text);
  if (mapped !== null) return ipToBytes(mapped[1]!);
  const bytes = Buffer.alloc(16);
  let head = text;
  let tail = '';
  const gap = text.indexOf('::');
  if (gap !== -1) {
    head = text.slice(0, gap);
    tail = text.slice(gap + 2);
  }
  const groups = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const group of part.split(':')) {
      if (group.includes('.')) {
        const v4 = group.split('.').map(Number);
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else out.push(parseInt(group, 16));
    }
    return out;
  };
  const headGroups = groups(head);
  const tailGroups = groups(tail);
  headGroups.forEach((g, i) => bytes.writeUInt16BE(g, i * 2));
  tailGroups.forEach((g, i) => bytes.writeUInt16BE(g, 16 - (tailGroups.length - i) * 2));
  return { family: 6, bytes };
}

function writeHeader(out: Buffer, type: number, bodyLength: number, request: Buffer): void {
  out.writeUInt16BE(type, 0);
  out.writeUInt16BE(bodyLength, 2);
  out.writeUInt32BE(STUN_MAGIC_COOKIE, 4);
  request.copy(out, 8, 8, STUN_HEADER_LENGTH); // same transaction ID, RFC 5389 §7.3.1
}

/** Appends MESSAGE-INTEGRITY at `pos` (header length already covering it) and returns the next offset. */
function writeIntegrity(out: Buffer, pos: number, key: Buffer): number {
  out.writeUInt16BE(pos + 4 + INTEGRITY_LENGTH - STUN_HEADER_LENGTH, 2);
  const digest = createHmac('sha1', key).update(out.subarray(0, pos)).digest();
  out.writeUInt16BE(StunAttribute.MessageIntegrity, pos);
  out.writeUInt16BE(INTEGRITY_LENGTH, pos + 2);
  digest.copy(out, pos + 4);
  return pos + 4 + INTEGRITY_LENGTH;
}

/** Appends FINGERPRINT at `pos` as the last attribute (RFC 5389 §15.5). */
function writeFingerprint(out: Buffer, pos: number): void {
  out.writeUInt16BE(pos + 8 - STUN_HEADER_LENGTH, 2);
  const value = (crc32(out.subarray(0, pos)) ^ FINGERPRINT_XOR) >>> 0;
  out.writeUInt16BE(StunAttribute.Fingerprint, pos);
  out.writeUInt16BE(4, pos + 2);
  out.writeUInt32BE(value, pos + 4);
}

/**
 * Binding success response to `request`: XOR-MAPPED-ADDRESS of the request's source (RFC 5389 §15.2),
 * MESSAGE-INTEGRITY with the password that authenticated the request (§10.1.2), FINGERPRINT (RFC 8445 §7.3).
 */
export function encodeBindingSuccess(request: Buffer, source: IpBytes, port: number, key: Buffer): Buffer {
  const addressLength = source.family === 4 ? 4 : 16;
  const xorLength = 4 + 4 + addressLength;
  const out = Buffer.alloc(STUN_HEADER_LENGTH + xorLength + 4 + INTEGRITY_LENGTH + 8);
  writeHeader(out, STUN_BINDING | StunClass.SuccessResponse, 0, request);
  let pos = STUN_HEADER_LENGTH;
  out.writeUInt16BE(StunAttribute.XorMappedAddress, pos);
  out.writeUInt16BE(4 + addressLength, pos + 2);
  out[pos + 4] = 0;
  out[pos + 5] = source.family === 4 ? 0x01 : 0x02;
  out.writeUInt16BE(port ^ (STUN_MAGIC_COOKIE >>> 16), pos + 6);
  // X-Address: address XOR magic cookie (IPv4) or magic cookie ‖ transaction ID (IPv6).
  for (let i = 0; i < addressLength; i++) out[pos + 8 + i] = source.bytes[i]! ^ out[4 + i]!;
  pos += xorLength;
  pos = writeIntegrity(out, pos, key);
  writeFingerprint(out, pos);
  return out;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  420: 'Unknown Attribute',
  487: 'Role Conflict',
};

/**
 * Binding error response. `key` is given only when the request was authenticated (420, 487): RFC 5389 §10.1.2
 * forbids MESSAGE-INTEGRITY in the 400/401 sent when the credential checks themselves failed.
 */
export function encodeBindingError(request: Buffer, code: 400 | 401 | 420 | 487, key?: Buffer, unknownAttributes?: readonly number[]): Buffer {
  const reason = Buffer.from(REASONS[code]!, 'utf8');
  const errorValueLength = 4 + reason.length;
  const unknownLength = unknownAttributes !== undefined && unknownAttributes.length > 0 ? unknownAttributes.length * 2 : 0;
  const size =
    STUN_HEADER_LENGTH +
    4 + ((errorValueLength + 3) & ~3) +
    (unknownLength > 0 ? 4 + ((unknownLength + 3) & ~3) : 0) +
    (key !== undefined ? 4 + INTEGRITY_LENGTH : 0) +
    8;
  const out = Buffer.alloc(size);
  writeHeader(out, STUN_BINDING | StunClass.ErrorResponse, 0, request);
  let pos = STUN_HEADER_LENGTH;
  out.writeUInt16BE(StunAttribute.ErrorCode, pos);
  out.writeUInt16BE(errorValueLength, pos + 2);
  out[pos + 6] = Math.floor(code / 100); // RFC 5389 §15.6: class (hundreds digit) and number (0–99)
  out[pos + 7] = code % 100;
  reason.copy(out, pos + 8);
  pos += 4 + ((errorValueLength + 3) & ~3);
  if (unknownLength > 0) {
    out.writeUInt16BE(StunAttribute.UnknownAttributes, pos);
    out.writeUInt16BE(unknownLength, pos + 2);
    unknownAttributes!.forEach((type, i) => out.writeUInt16BE(type, pos + 4 + i * 2));
    pos += 4 + ((unknownLength + 3) & ~3);
  }
  if (key !== undefined) pos = writeIntegrity(out, pos, key);
  writeFingerprint(out, pos);
  return out;
}
