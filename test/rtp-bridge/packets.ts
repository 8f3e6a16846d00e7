/**
 * Test packet builders. RTP and RTCP are serialized by werift-rtp, an implementation independent of ours, so the
 * tests check our in-place readers and rewriters against someone else's reading of RFC 3550.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import {
  RtcpReceiverInfo,
  RtcpRrPacket,
  RtcpSenderInfo,
  RtcpSourceDescriptionPacket,
  RtcpSrPacket,
  RtpHeader,
  RtpPacket,
  SourceDescriptionChunk,
  SourceDescriptionItem,
} from 'werift-rtp';

export interface RtpFields {
  readonly seq: number;
  readonly ts: number;
  readonly ssrc: number;
  readonly pt?: number;
  readonly marker?: boolean;
  readonly payload?: Buffer;
}

export function rtp(f: RtpFields): Buffer {
  const header = new RtpHeader({
    payloadType: f.pt ?? 0,
    sequenceNumber: f.seq,
    timestamp: f.ts,
    ssrc: f.ssrc,
    marker: f.marker ?? false,
  });
  return new RtpPacket(header, f.payload ?? Buffer.alloc(160, 0xff)).serialize();
}

export const parseRtp = (buf: Buffer) => RtpPacket.deSerialize(buf).header;

export interface BlockFields {
  readonly ssrc: number;
  readonly fractionLost?: number;
  readonly packetsLost?: number;
  readonly highestSequence?: number;
  readonly jitter?: number;
  readonly lsr?: number;
  readonly dlsr?: number;
}

const block = (b: BlockFields) => new RtcpReceiverInfo({ fractionLost: 0, packetsLost: 0, highestSequence: 0, jitter: 0, lsr: 0, dlsr: 0, ...b });

export function sr(ssrc: number, info: { ntp: bigint; rtpTs: number; packets?: number; octets?: number }, blocks: BlockFields[] = []): Buffer {
  return new RtcpSrPacket({
    ssrc,
    senderInfo: new RtcpSenderInfo({ ntpTimestamp: info.ntp, rtpTimestamp: info.rtpTs, packetCount: info.packets ?? 0, octetCount: info.octets ?? 0 }),
    reports: blocks.map(block),
  }).serialize();
}

export function rr(ssrc: number, blocks: BlockFields[] = []): Buffer {
  return new RtcpRrPacket({ ssrc, reports: blocks.map(block) }).serialize();
}

export function sdes(ssrc: number, cname: string): Buffer {
  return new RtcpSourceDescriptionPacket({
    chunks: [new SourceDescriptionChunk({ source: ssrc, items: [new SourceDescriptionItem({ type: 1, text: cname })] })],
  }).serialize();
}

/** RFC 3550 §6.6 BYE with the given sources and no reason. */
export function bye(...ssrcs: number[]): Buffer {
  const buf = Buffer.alloc(4 + 4 * ssrcs.length);
  buf[0] = 0x80 | ssrcs.length;
  buf[1] = 203;
  buf.writeUInt16BE(ssrcs.length, 2);
  ssrcs.forEach((s, i) => buf.writeUInt32BE(s, 4 + 4 * i));
  return buf;
}

/** A loopback UDP socket that queues what it receives. */
export class Peer {
  readonly socket: dgram.Socket;
  readonly received: { buf: Buffer; port: number; address: string }[] = [];
  #waiters: (() => void)[] = [];

  private constructor(socket: dgram.Socket) {
    this.socket = socket;
    socket.on('message', (buf, rinfo) => {
      this.received.push({ buf, port: rinfo.port, address: rinfo.address });
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  static async bind(port = 0, address = '127.0.0.1'): Promise<Peer> {
    const socket = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
    socket.bind(port, address);
    await once(socket, 'listening');
    return new Peer(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(buf: Buffer, port: number, address = '127.0.0.1'): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(buf, port, address, (err) => (err ? reject(err) : resolve())));
  }

  /** Resolves once at least `count` datagrams have arrived in total. */
  async waitFor(count: number, timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${count} datagrams (got ${this.received.length})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.close();
  }
}

/** Give in-flight loopback datagrams a moment to be processed (for asserting that something did NOT arrive). */
export const settle = (ms = 50) => new Promise((r) => setTimeout(r, ms));

/** Counts handler calls and keeps copies of what it was given (handlers must not keep the Buffer itself). */
export class Counter {
  readonly copies: Buffer[] = [];
  readonly inc = (buf: Buffer, length: number): void => {
    this.copies.push(Buffer.from(buf.subarray(0, length)));
  };

  get count(): number {
    return this.copies.length;
  }

  async waitFor(count: number, timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.copies.length < count) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} packets (got ${this.copies.length})`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}
