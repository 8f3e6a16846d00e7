/**
 * The media plane's first look at a datagram from the network, fuzzed together because one socket feeds them all
 * (RFC 7983): first-byte demultiplexing (src/webrtc/demux.ts, src/rtp-bridge/demux.ts), the STUN parser and its
 * integrity check and responses (src/webrtc/stun.ts), the RTP header check (rtp-packet.ts checkRtp), the compound
 * RTCP check (rtcp-packet.ts checkRtcpCompound) and the DTLS record scan (dtls-record.ts). Every parser runs on
 * every input, whatever its first byte. None may throw; every offset a check calls valid must lie inside the packet.
 */
import { createHmac } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { classifyPacket } from '../../../src/rtp-bridge/demux.ts';
import { isDtls, isRtcp, isRtpOrRtcp, isStun } from '../../../src/webrtc/demux.ts';
import { encodeBindingError, encodeBindingSuccess, ipToBytes, parseStun, StunView, verifyMessageIntegrity } from '../../../src/webrtc/stun.ts';
import { checkRtp, isRtp, payloadType, rtpHeaderLength, rtpPayloadLength, sequenceNumber, ssrc, timestamp } from '../../../src/rtp-bridge/rtp-packet.ts';
import { isRtcp as isRtcpPacket } from '../../../src/rtp-bridge/rtp-packet.ts';
import { checkRtcpCompound, rtcpCount, rtcpPacketLength, rtcpPacketType, reportBlockOffset, REPORT_BLOCK_SIZE, RtcpType, blockCumulativeLost } from '../../../src/rtp-bridge/rtcp-packet.ts';
import { DtlsDatagramScan, forEachAlert, scanDtlsDatagram, selectRecords } from '../../../src/webrtc/dtls-record.ts';
import { rtp, sr } from '../../rtp-bridge/packets.ts';
import { FuzzFailure, runFuzzLoop, type FuzzStats } from '../harness.ts';
import { ByteMutator, type BinaryCase } from '../mutators.ts';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const PASSWORD = Buffer.from('VOkJxbRl1RmTxUk/WvJxBt');

/** RFC 5769 §2.1 sample request and §2.2 sample response. */
const RFC5769_REQUEST = hex(`
  00010058 2112a442 b7e7a701 bc34d686 fa87dfae 80220010 5354554e 20746573 7420636c 69656e74
  00240004 6e0001ff 80290008 932ff9b1 51263b36 00060009 6576746a 3a683676 59202020
  00080014 9aeaa70c bfd8cb56 781ef2b5 b2d3f249 c1b571a2 80280004 e57a3bcf`);
const RFC5769_RESPONSE = hex(`
  0101003c 2112a442 b7e7a701 bc34d686 fa87dfae 8022000b 74657374 20766563 746f7220
  00200008 0001a147 e112a643 00080014 2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7 80280004 c07d4c96`);

/** A Binding request as a browser sends it: USERNAME, ICE-CONTROLLING, USE-CANDIDATE, PRIORITY, MI, FINGERPRINT. */
function browserBindingRequest(): Buffer {
  const tlv = (type: number, value: Buffer): Buffer => {
    const out = Buffer.alloc(4 + ((value.length + 3) & ~3));
    out.writeUInt16BE(type, 0);
    out.writeUInt16BE(value.length, 2);
    value.copy(out, 4);
    return out;
  };
  let m = Buffer.concat([
    hex('0001 0000 2112a442 0102030405060708090a0b0c'),
    tlv(0x0006, Buffer.from('gWx4:TH3M')),
    tlv(0x802a, hex('0011223344556677')),
    tlv(0x0025, Buffer.alloc(0)),
    tlv(0x0024, hex('6e7f1eff')),
    tlv(0xc057, hex('00010032')), // GOOG-NETWORK-INFO, comprehension-optional
  ]);
  m.writeUInt16BE(m.length - 20 + 24, 2);
  m = Buffer.concat([m, tlv(0x0008, createHmac('sha1', PASSWORD).update(m).digest())]);
  m.writeUInt16BE(m.length - 20 + 8, 2);
  const fp = Buffer.alloc(4);
  fp.writeUInt32BE((crc32(m) ^ 0x5354554e) >>> 0);
  return Buffer.concat([m, tlv(0x8028, fp)]);
}

/** A DTLS 1.2 ClientHello record (RFC 6347 §4.2.1), cookie empty, and one with a cookie, and an alert. */
function dtlsRecords(): Buffer[] {
  const hello = (cookie: Buffer): Buffer => {
    const body = Buffer.concat([hex('fefd'), Buffer.alloc(32, 7), hex('00'), Buffer.from([cookie.length]), cookie, hex('0004 c02b c02f 0100')]);
    const handshake = Buffer.concat([hex('01'), uint24(body.length), hex('0000'), uint24(0), uint24(body.length), body]);
    return Buffer.concat([hex('16 feff 0000 000000000000'), u16(handshake.length), handshake]);
  };
  const alert = Buffer.concat([hex('15 fefd 0000 000000000001'), u16(2), hex('0228')]);
  const appData = Buffer.concat([hex('17 fefd 0001 000000000003'), u16(24), Buffer.alloc(24, 0x42)]);
  return [hello(Buffer.alloc(0)), hello(Buffer.alloc(32, 9)), Buffer.concat([hello(Buffer.alloc(0)), alert]), appData];
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function uint24(n: number): Buffer {
  return Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
}

/** RTP with CSRCs, a header extension and padding, as RFC 3550 §5.1/§5.3.1 lay them out. */
function rtpWithEverything(): Buffer {
  const header = hex('b8 6f 1234 00000a00 deadbeef 00000001 00000002 00000003 00000004 00000005 00000006 00000007 00000008');
  header[0] = 0x80 | 0x20 | 0x10 | 8; // V=2, P, X, CC=8
  const extension = hex('bede 0002 10ff 2200 3344 0000');
  return Buffer.concat([header, extension, Buffer.alloc(20, 0xd5), hex('00 00 00 04')]);
}

export function mediaSeeds(): Buffer[] {
  const feedback = hex('81cd0003 11111111 22222222 00010000'); // RTPFB generic NACK
  const pli = hex('81ce0002 11111111 22222222'); // PSFB PLI
  const sdes = hex('81ca0003 11111111 01036162 63000000');
  const bye = hex('81cb0001 11111111');
  const rr = hex('81c90007 11111111 22222222 05000003 00001234 00000010 00000000 00000000');
  const srWithBlocks = sr(0x11111111, { ntp: 0x0123456789abcdefn, rtpTs: 160, packets: 10, octets: 1600 }, [{ ssrc: 0x22222222, packetsLost: 3, highestSequence: 70000 }]);
  return [
    RFC5769_REQUEST,
    RFC5769_RESPONSE,
    browserBindingRequest(),
    ...dtlsRecords(),
    rtp({ seq: 1, ts: 160, ssrc: 0x12345678, pt: 0 }),
    rtp({ seq: 65535, ts: 0xffffffff, ssrc: 1, pt: 111, marker: true, payload: Buffer.alloc(3) }),
    rtp({ seq: 7, ts: 1, ssrc: 2, pt: 126, payload: hex('0a8a0320') }), // telephone-event
    rtpWithEverything(),
    srWithBlocks,
    Buffer.concat([srWithBlocks, sdes]),
    Buffer.concat([rr, sdes, bye]),
    feedback,
    pli,
  ];
}

const LOCAL = ipToBytes('192.0.2.1')!;

/** Every parser on the same bytes; returns the outcome of the one the first byte selects. */
function inspect(buf: Buffer, view: StunView, scan: DtlsDatagramScan): string {
  const length = buf.length;
  const cls = classifyPacket(buf, length);
  // The webrtc leg's one-line predicates agree with the media node's classifier.
  if (length > 0) {
    const b0 = buf[0]!;
    if (isStun(b0) !== (cls === 'stun')) throw new FuzzFailure(`demux disagreement on STUN for first byte ${b0}`);
    if (isDtls(b0) !== (cls === 'dtls')) throw new FuzzFailure(`demux disagreement on DTLS for first byte ${b0}`);
    if (length > 1 && isRtpOrRtcp(b0) && isRtcp(buf[1]!) && cls !== 'rtcp' && (buf[1]! & 0x7f) >= 64 && (buf[1]! & 0x7f) <= 95) {
      throw new FuzzFailure('demux disagreement on RTCP');
    }
  }

  const stun = parseStun(buf, view);
  if (stun === 'ok') {
    if (view.usernameOffset !== -1 && view.usernameOffset + view.usernameLength > length) throw new FuzzFailure('USERNAME outside the message');
    if (view.integrityOffset !== -1) {
      if (view.integrityOffset + 24 > length) throw new FuzzFailure('MESSAGE-INTEGRITY outside the message');
      verifyMessageIntegrity(buf, view, PASSWORD);
    }
    // Our answers to whatever parsed must themselves parse.
    const error = encodeBindingError(buf, 420, PASSWORD, view.unknownRequired);
    const success = encodeBindingSuccess(buf, LOCAL, 5000, PASSWORD);
    const check = new StunView();
    if (parseStun(error, check) !== 'ok' || parseStun(success, check) !== 'ok') throw new FuzzFailure('our STUN response does not parse');
  }

  const rtpCheck = checkRtp(buf, length);
  if (rtpCheck === 'ok') {
    const header = rtpHeaderLength(buf);
    const payload = rtpPayloadLength(buf, length);
    if (header > length || payload < 0 || header + payload > length) throw new FuzzFailure(`RTP header ${header} + payload ${payload} > ${length}`);
    if (!isRtp(buf, length)) throw new FuzzFailure('checkRtp ok but isRtp false');
    payloadType(buf);
    sequenceNumber(buf);
    timestamp(buf);
    ssrc(buf);
  }

  const rtcpCheck = checkRtcpCompound(buf, length);
  if (rtcpCheck === 'ok') {
    let blocks = 0;
    for (let off = 0; off < length; off += rtcpPacketLength(buf, off)) {
      const size = rtcpPacketLength(buf, off);
      if (off + size > length || size < 4) throw new FuzzFailure(`RTCP packet at ${off} of ${size} bytes overruns ${length}`);
      const type = rtcpPacketType(buf, off);
      if (type === RtcpType.SR || type === RtcpType.RR) {
        for (let i = 0; i < rtcpCount(buf, off); i++) {
          const block = reportBlockOffset(buf, off, i);
          if (block + REPORT_BLOCK_SIZE > off + size) throw new FuzzFailure(`report block ${i} overruns its packet`);
          blockCumulativeLost(buf, block);
          blocks++;
        }
      }
    }
    if (blocks < 0) throw new FuzzFailure('unreachable');
    isRtcpPacket(buf, length);
  }

  const dtlsOk = scanDtlsDatagram(buf, scan);
  selectRecords(buf, (type) => type !== 21);
  forEachAlert(buf, () => {});

  switch (cls) {
    case 'stun':
      return `stun:${stun}`;
    case 'rtp':
      return `rtp:${rtpCheck}`;
    case 'rtcp':
      return `rtcp:${rtcpCheck}`;
    case 'dtls':
      return `dtls:${dtlsOk ? 'ok' : 'malformed'}`;
    default:
      return cls;
  }
}

/**
 * Almost every mutation breaks a STUN message's FINGERPRINT, which stops the parser at its last step. For a third
 * of the STUN-looking inputs the header length and a trailing FINGERPRINT are made right again, so the attribute
 * walk and everything after it see the mutated attributes.
 */
function repairStun(buf: Buffer): Buffer | undefined {
  if (buf.length < 28 || buf[0]! > 3 || buf.readUInt32BE(4) !== 0x2112a442) return undefined;
  const out = buf.length % 4 === 0 ? Buffer.from(buf) : Buffer.concat([buf, Buffer.alloc(4 - (buf.length % 4))]);
  out.writeUInt16BE(out.length - 20, 2);
  const fp = out.length - 8;
  if (out.readUInt16BE(fp) === 0x8028 && out.readUInt16BE(fp + 2) === 4) out.writeUInt32BE((crc32(out.subarray(0, fp)) ^ 0x5354554e) >>> 0, fp + 4);
  return out;
}

export function runMediaFuzz(options: { iterations: number; seed: number }): FuzzStats {
  const m = new ByteMutator(mediaSeeds(), options.seed);
  const view = new StunView();
  const scan = new DtlsDatagramScan();
  return runFuzzLoop<BinaryCase>({
    target: 'media',
    ...options,
    next: () => {
      const c = m.next();
      const repaired = m.random.chance(0.33) ? repairStun(c.input) : undefined;
      return repaired === undefined ? c : { input: repaired, ops: [...c.ops, 'stun-repair'] };
    },
    check: (c) => inspect(c.input, view, scan),
    expected: () => undefined,
  });
}
