/**
 * SRTP micro-benchmark: ns per protect and per unprotect of one 172-byte RTP packet (12-byte header + 160
 * octets of PCMU, one 20 ms frame) for each profile, plus SRTCP on an 80-byte compound report and, for the
 * two profiles it implements, werift-rtp's SrtpSession on the same packet as a reference point.
 *
 *   node_modules/.bin/node bench/srtp.bench.ts [--rounds N]
 *
 * Each figure is the median (and minimum) over rounds of ROUND_PACKETS packets after a warm-up, in CPU time.
 * Unprotect needs a fresh packet every time (the replay list rejects repeats), so each round first protects a
 * batch, untimed, then times unprotecting it in place.
 *
 * A last section times the alternatives the implementation chose between (HMAC-SHA1 and AES-CM ways, GCM
 * through a node:crypto cipher per packet or through one ECB cipher and a JavaScript GHASH), so the choices
 * can be re-checked on other hardware or Node versions.
 */
import { createCipheriv, createHash, createHmac, createSecretKey, hash } from 'node:crypto';
import { RtpPacket, SrtpSession } from 'werift-rtp';
import { AesCm } from '../src/webrtc/srtp/aes-cm.ts';
import { AesGcm } from '../src/webrtc/srtp/aes-gcm.ts';
import { SrtpContext } from '../src/webrtc/srtp/context.ts';
import { HmacSha1 } from '../src/webrtc/srtp/hmac-sha1.ts';
import { SRTP_MAX_OVERHEAD, SRTP_PROFILES, type SrtpProfileName } from '../src/webrtc/srtp/profiles.ts';

const ROUND_PACKETS = 20_000;
const roundsArg = process.argv.indexOf('--rounds');
const ROUNDS = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 9;
const RTP_LENGTH = 172;
const RTCP_LENGTH = 80;

function rtpPacket(): Buffer {
  const p = Buffer.alloc(RTP_LENGTH + SRTP_MAX_OVERHEAD);
  p[0] = 0x80;
  p[1] = 0; // PCMU
  p.writeUInt32BE(0x1234abcd, 8);
  for (let i = 12; i < RTP_LENGTH; i++) p[i] = (i * 31) & 0xff;
  return p;
}

function rtcpPacket(): Buffer {
  const p = Buffer.alloc(RTCP_LENGTH + SRTP_MAX_OVERHEAD);
  p[0] = 0x80;
  p[1] = 200; // SR
  p.writeUInt16BE(RTCP_LENGTH / 4 - 1, 2);
  p.writeUInt32BE(0x1234abcd, 4);
  for (let i = 8; i < RTCP_LENGTH; i++) p[i] = i & 0xff;
  return p;
}

interface Result {
  median: number;
  min: number;
}

function summarize(samples: number[]): Result {
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: sorted[sorted.length >> 1]!, min: sorted[0]! };
}

/**
 * ns of this process's CPU time (user + system) per packet of one round. CPU time rather than wall time: on a
 * shared machine a round is often descheduled, which stretches wall time but not the work done.
 */
function time(fn: () => void): number {
  const start = process.cpuUsage();
  fn();
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / ROUND_PACKETS;
}

function keysFor(profile: SrtpProfileName) {
  const params = SRTP_PROFILES[profile];
  return {
    profile,
    masterKey: Buffer.alloc(params.keyLength, 0x5a),
    masterSalt: Buffer.alloc(params.saltLength, 0xa5),
  };
}

/** Protect and unprotect timings for RTP or RTCP through our contexts. */
function benchContext(profile: SrtpProfileName, kind: 'rtp' | 'rtcp'): { protect: Result; unprotect: Result } {
  const sender = new SrtpContext(keysFor(profile));
  const receiver = new SrtpContext(keysFor(profile), { replayWindowSize: 128 });
  const plain = kind === 'rtp' ? rtpPacket() : rtcpPacket();
  const length = kind === 'rtp' ? RTP_LENGTH : RTCP_LENGTH;
  const out = Buffer.alloc(length + SRTP_MAX_OVERHEAD);
  const batch = Array.from({ length: ROUND_PACKETS }, () => Buffer.alloc(length + SRTP_MAX_OVERHEAD));
  const batchLengths = new Int32Array(ROUND_PACKETS);
  const protect = kind === 'rtp' ? sender.protectRtp.bind(sender) : sender.protectRtcp.bind(sender);
  const unprotect = kind === 'rtp' ? receiver.unprotectRtp.bind(receiver) : receiver.unprotectRtcp.bind(receiver);
  let seq = 0;
  let failures = 0;

  const protectRound = (): void => {
    for (let i = 0; i < ROUND_PACKETS; i++) {
      seq = (seq + 1) & 0xffff;
      plain[2] = seq >>> 8;
      plain[3] = seq;
      if (protect(plain, length, out) < 0) failures++;
    }
  };
  const fillBatch = (): void => {
    for (let i = 0; i < ROUND_PACKETS; i++) {
      seq = (seq + 1) & 0xffff;
      plain[2] = seq >>> 8;
      plain[3] = seq;
      batchLengths[i] = protect(plain, length, batch[i]!);
    }
  };
  const unprotectRound = (): void => {
    for (let i = 0; i < ROUND_PACKETS; i++) {
      const b = batch[i]!;
      if (unprotect(b, batchLengths[i]!, b) !== length) failures++;
    }
  };

  // Warm-up: let V8 optimize both paths.
  protectRound();
  fillBatch();
  unprotectRound();
  const protectSamples: number[] = [];
  const unprotectSamples: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    protectSamples.push(time(protectRound));
    fillBatch();
    unprotectSamples.push(time(unprotectRound));
  }
  if (failures !== 0) throw new Error(`${profile} ${kind}: ${failures} packets failed`);
  return { protect: summarize(protectSamples), unprotect: summarize(unprotectSamples) };
}

/** werift-rtp's SrtpSession on the same packet, for scale (it allocates per packet and parses headers). */
function benchWerift(profile: SrtpProfileName): { protect: Result; unprotect: Result } {
  const params = SRTP_PROFILES[profile];
  const { masterKey, masterSalt } = keysFor(profile);
  const session = new SrtpSession({
    keys: { localMasterKey: masterKey, localMasterSalt: masterSalt, remoteMasterKey: masterKey, remoteMasterSalt: masterSalt },
    profile: params.id as 1 | 7,
  });
  const plain = rtpPacket().subarray(0, RTP_LENGTH);
  const packet = RtpPacket.deSerialize(plain);
  const batch: Buffer[] = new Array(ROUND_PACKETS);
  let seq = 0;
  const protectRound = (): void => {
    for (let i = 0; i < ROUND_PACKETS; i++) {
      seq = (seq + 1) & 0xffff;
      packet.header.sequenceNumber = seq;
      batch[i] = session.encrypt(packet.payload, packet.header);
    }
  };
  const unprotectRound = (): void => {
    for (let i = 0; i < ROUND_PACKETS; i++) session.decrypt(batch[i]!);
  };
  protectRound();
  unprotectRound();
  const protectSamples: number[] = [];
  const unprotectSamples: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    protectSamples.push(time(protectRound));
    unprotectSamples.push(time(unprotectRound));
  }
  return { protect: summarize(protectSamples), unprotect: summarize(unprotectSamples) };
}

const fmt = (r: Result): string => `${r.median.toFixed(0).padStart(6)} (min ${r.min.toFixed(0).padStart(5)})`;
const profiles = Object.keys(SRTP_PROFILES) as SrtpProfileName[];

console.log(`node ${process.version}, ${ROUNDS} rounds × ${ROUND_PACKETS} packets, ns/op median (min)`);
console.log(`${'profile'.padEnd(30)} ${'kind'.padEnd(16)} ${'protect'.padEnd(20)} unprotect`);
for (const profile of profiles) {
  const rtp = benchContext(profile, 'rtp');
  console.log(`${profile.padEnd(30)} ${'RTP 172 B'.padEnd(16)} ${fmt(rtp.protect)} ${fmt(rtp.unprotect)}`);
}
for (const profile of profiles) {
  const rtcp = benchContext(profile, 'rtcp');
  console.log(`${profile.padEnd(30)} ${'SRTCP 80 B'.padEnd(16)} ${fmt(rtcp.protect)} ${fmt(rtcp.unprotect)}`);
}
for (const profile of ['SRTP_AES128_CM_HMAC_SHA1_80', 'SRTP_AEAD_AES_128_GCM'] as const) {
  const ref = benchWerift(profile);
  console.log(`${profile.padEnd(30)} ${'werift RTP 172 B'.padEnd(16)} ${fmt(ref.protect)} ${fmt(ref.unprotect)}`);
}

/** ns per call of `fn`, median and minimum over the rounds. */
function benchCall(fn: () => void): Result {
  const round = (): void => {
    for (let i = 0; i < ROUND_PACKETS; i++) fn();
  };
  round();
  const samples: number[] = [];
  for (let r = 0; r < ROUNDS; r++) samples.push(time(round));
  return summarize(samples);
}

/** Returns the last result so no call can be optimised away as dead. */
function benchAlternatives(): unknown {
  const key = Buffer.alloc(20, 0x3c);
  const message = rtpPacket();
  const roc = Buffer.alloc(4);
  const ipad = Buffer.alloc(64, 0x36);
  const opad = Buffer.alloc(64, 0x5c);
  for (let i = 0; i < key.length; i++) {
    ipad[i]! ^= key[i]!;
    opad[i]! ^= key[i]!;
  }
  const innerBase = createHash('sha1').update(ipad);
  const outerBase = createHash('sha1').update(opad);
  const innerInput = Buffer.concat([ipad, message.subarray(0, RTP_LENGTH), roc]);
  const outerInput = Buffer.alloc(84);
  opad.copy(outerInput);
  const ours = new HmacSha1(key);
  let sink: unknown;
  const rows: [string, () => void][] = [
    ['HMAC-SHA1 176 B: crypto.createHmac', () => {
      sink = createHmac('sha1', key).update(message.subarray(0, RTP_LENGTH)).update(roc).digest();
    }],
    ['HMAC-SHA1 176 B: padded keys + hash.copy()', () => {
      const inner = innerBase.copy().update(message.subarray(0, RTP_LENGTH)).update(roc).digest();
      sink = outerBase.copy().update(inner).digest();
    }],
    ['HMAC-SHA1 176 B: padded keys + crypto.hash', () => {
      message.copy(innerInput, 64, 0, RTP_LENGTH);
      hash('sha1', innerInput, 'buffer').copy(outerInput, 64);
      sink = hash('sha1', outerInput, 'buffer');
    }],
    ['HMAC-SHA1 176 B: HmacSha1 (JS compression)', () => {
      sink = ours.macWithSuffix(message, RTP_LENGTH, 0);
    }],
  ];
  const aesKey = Buffer.alloc(16, 0x77);
  const iv = Buffer.alloc(16);
  const payload = message.subarray(12, RTP_LENGTH);
  const cm = new AesCm(aesKey, Buffer.alloc(14, 0x11));
  const batched = new AesCm(aesKey, Buffer.alloc(14, 0x11), true);
  const out = Buffer.alloc(RTP_LENGTH);
  let seq = 0;
  rows.push(
    ['AES-CM 160 B: createCipheriv aes-128-ctr', () => {
      sink = createCipheriv('aes-128-ctr', aesKey, iv).update(payload);
    }],
    ['AES-CM 160 B: one ECB cipher, counter blocks', () => {
      cm.xor(message, out, 12, RTP_LENGTH, 0x1234abcd, 0, 1);
    }],
    ['AES-CM 160 B: same, batched over 8 indices', () => {
      seq = (seq + 1) & 0xffff;
      batched.xor(message, out, 12, RTP_LENGTH, 0x1234abcd, 0, seq);
    }],
  );
  const keyObject = createSecretKey(aesKey);
  const gcmIv = Buffer.alloc(12);
  for (const [name, gcmKey] of [['raw key', aesKey], ['KeyObject', keyObject]] as const) {
    rows.push([`AES-128-GCM seal 160 B: cipher per packet, ${name}`, () => {
      const c = createCipheriv('aes-128-gcm', gcmKey, gcmIv);
      c.setAAD(message.subarray(0, 12));
      sink = c.update(payload);
      c.final();
      sink = c.getAuthTag();
    }]);
  }
  // What transform-gcm.ts does per packet: counter blocks through one ECB cipher, GHASH in JavaScript.
  for (const [name, batch] of [['one ECB cipher + JS GHASH', false], ['same, batched over 8 indices', true]] as const) {
    const gcm = new AesGcm(aesKey, gcmIv, batch);
    const sealed = Buffer.alloc(RTP_LENGTH + 16);
    let gcmSeq = 0;
    rows.push([`AES-128-GCM seal 160 B: ${name}`, () => {
      gcmSeq = (gcmSeq + 1) & 0xffff;
      gcm.prepare(0x1234abcd, 0, gcmSeq, RTP_LENGTH - 12);
      gcm.xor(message, sealed, 12, RTP_LENGTH);
      gcm.tag(message, 0, 12, sealed, 12, RTP_LENGTH);
      gcm.writeTag(sealed, RTP_LENGTH);
    }]);
  }
  console.log('\ndesign alternatives, ns/call median (min)');
  for (const [name, fn] of rows) console.log(`${name.padEnd(56)} ${fmt(benchCall(fn))}`);
  return sink;
}

benchAlternatives();
