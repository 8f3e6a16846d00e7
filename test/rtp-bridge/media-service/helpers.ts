/**
 * Test peers for the media service: a werift RTCPeerConnection as the browser (restricted to loopback the way
 * test/webrtc/werift-peer.ts does it: a silent loopback STUN server, no host addresses from the interfaces, a
 * candidate-pair filter that records every pair) and plain UDP sockets as trunks, with a hand-written trunk SDP.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { afterEach } from 'vitest';
import { RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, RtpPacket, type RTCRtpTransceiver } from 'werift';
import { MediaService, type MediaServiceOptions } from '../../../src/rtp-bridge/media-service.ts';
import { bindLoopbackSocket, isLoopback, LOOPBACK, waitFor } from '../../webrtc/werift-peer.ts';

export { isLoopback, LOOPBACK, waitFor };

export interface BrowserCodec {
  readonly mimeType: string;
  readonly clockRate: number;
  readonly payloadType: number;
  readonly channels?: number;
}

export const PCMU: BrowserCodec = { mimeType: 'audio/PCMU', clockRate: 8000, payloadType: 0 };

export interface Browser {
  readonly pc: RTCPeerConnection;
  readonly transceiver: RTCRtpTransceiver;
  readonly stunSink: dgram.Socket;
  /** Every RTP packet the browser's receiver got, in arrival order. */
  readonly received: RtpPacket[];
  /** Every candidate pair werift considered. */
  readonly pairs: Array<{ local: string; remote: string }>;
  close(): Promise<void>;
}

export async function createBrowser(codecs: readonly BrowserCodec[] = [PCMU]): Promise<Browser> {
  const pairs: Browser['pairs'] = [];
  const stunSink = await bindLoopbackSocket();
  stunSink.on('message', () => {});
  const pc = new RTCPeerConnection({
    iceServers: [{ urls: `stun:${LOOPBACK}:${stunSink.address().port}` }],
    iceStunGatherTimeout: 0.2,
    iceUseIpv4: false, // host addresses from os.networkInterfaces() would include eth0
    iceUseIpv6: false,
    iceAdditionalHostAddresses: [LOOPBACK],
    iceInterfaceAddresses: { udp4: LOOPBACK },
    iceFilterCandidatePair: (pair) => {
      pairs.push({ local: pair.localCandidate.host, remote: pair.remoteCandidate.host });
      return pair.localCandidate.host === LOOPBACK && pair.remoteCandidate.host === LOOPBACK;
    },
    codecs: { audio: codecs.map((c) => new RTCRtpCodecParameters({ ...c })), video: [] },
  });
  const transceiver = pc.addTransceiver('audio', { direction: 'sendrecv' });
  const received: RtpPacket[] = [];
  transceiver.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((packet) => received.push(packet)));
  return {
    pc,
    transceiver,
    stunSink,
    received,
    pairs,
    close: async () => {
      await pc.close();
      stunSink.close();
    },
  };
}

/**
 * What a test opens (media services, browsers, trunks, timers), closed after it, the last opened first. Call once
 * at the top of a test file: it registers the afterEach.
 */
export function perTest() {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return {
    defer(cleanup: () => unknown): void {
      cleanups.push(cleanup);
    },
    /** A media service on loopback with 20 ports from `portMin` (each test file its own range). */
    async service(portMin: number, options: Partial<MediaServiceOptions> = {}): Promise<MediaService> {
      const media = await MediaService.create({ bindAddress: '127.0.0.1', portMin, portMax: portMin + 19, ...options });
      cleanups.push(() => media.close());
      return media;
    },
    async browser(codecs?: readonly BrowserCodec[]): Promise<Browser> {
      const b = await createBrowser(codecs);
      cleanups.push(() => b.close());
      return b;
    },
    async trunk(): Promise<Trunk> {
      const t = await Trunk.bind();
      cleanups.push(() => t.close());
      return t;
    },
  };
}

/**
 * The browser calls the trunk: browser offer → gateway → trunk answer (written for the gateway's offer) →
 * gateway → browser. Resolves with the gateway's offer to the trunk once the browser has the answer.
 */
export async function browserCallsTrunk(
  media: MediaService,
  b: Browser,
  answer: (toTrunk: string) => string,
  tags: { browser: string; trunk: string; label?: string } = { browser: 'browser', trunk: 'trunk' },
): Promise<string> {
  const toTrunk = await media.offer('call-1', tags.browser, await browserOffer(b), { to: 'plain', ...(tags.label === undefined ? {} : { label: tags.label }) });
  const toBrowser = await media.answer('call-1', tags.browser, tags.trunk, answer(toTrunk));
  await b.pc.setRemoteDescription({ type: 'answer', sdp: toBrowser });
  return toTrunk;
}

/** The browser's (re-)offer, complete with its candidates. */
export async function browserOffer(browser: Browser): Promise<string> {
  await browser.pc.setLocalDescription(await browser.pc.createOffer());
  await waitFor(() => browser.pc.iceGatheringState === 'complete', 5000);
  return browser.pc.localDescription!.sdp;
}

/** The browser answers a gateway offer. */
export async function browserAnswer(browser: Browser, offer: string): Promise<string> {
  await browser.pc.setRemoteDescription({ type: 'offer', sdp: offer });
  await browser.pc.setLocalDescription(await browser.pc.createAnswer());
  await waitFor(() => browser.pc.iceGatheringState === 'complete', 5000);
  return browser.pc.localDescription!.sdp;
}

export async function browserConnected(browser: Browser): Promise<void> {
  await waitFor(() => browser.pc.connectionState === 'connected', 10_000);
}

/** The browser sends one RTP packet (werift gives it its own SSRC and sequence space). */
export function browserSend(browser: Browser, seq: number, payload: Buffer, pt = 0): void {
  void browser.transceiver.sender.sendRtp(new RtpPacket(new RtpHeader({ payloadType: pt, sequenceNumber: seq, timestamp: seq * 160 }), payload));
}

export interface Received {
  readonly buf: Buffer;
  readonly address: string;
  readonly port: number;
}

/** A plain UDP endpoint on loopback standing for a trunk (RTP on `port`, RTCP on `rtcp.port`). */
export class Trunk {
  readonly rtp: dgram.Socket;
  readonly rtcp: dgram.Socket;
  readonly received: Received[] = [];
  readonly rtcpReceived: Received[] = [];
  /** Send every RTP packet back where it came from (an echo test number). */
  echo = false;

  private constructor(rtp: dgram.Socket, rtcp: dgram.Socket) {
    this.rtp = rtp;
    this.rtcp = rtcp;
    rtp.on('message', (buf, rinfo) => {
      this.received.push({ buf, address: rinfo.address, port: rinfo.port });
      if (this.echo) rtp.send(buf, rinfo.port, rinfo.address);
    });
    rtcp.on('message', (buf, rinfo) => this.rtcpReceived.push({ buf, address: rinfo.address, port: rinfo.port }));
  }

  /** Binds an even/odd pair on loopback (kernel-chosen; retried until both are free). */
  static async bind(): Promise<Trunk> {
    for (;;) {
      const rtp = dgram.createSocket('udp4');
      rtp.bind(0, LOOPBACK);
      await once(rtp, 'listening');
      const rtcp = dgram.createSocket('udp4');
      const bound = await new Promise<boolean>((resolve) => {
        rtcp.once('error', () => resolve(false));
        rtcp.bind(rtp.address().port + 1, LOOPBACK, () => resolve(true));
      });
      if (bound) return new Trunk(rtp, rtcp);
      rtp.close();
      rtcp.close();
    }
  }

  get port(): number {
    return this.rtp.address().port;
  }

  send(packet: Buffer, port: number, address = LOOPBACK): void {
    this.rtp.send(packet, port, address);
  }

  close(): void {
    this.rtp.close();
    this.rtcp.close();
  }
}

/** A trunk's SDP (SIPp/Asterisk style): one audio m-line, RTP/AVP. */
export function trunkSdp(options: {
  port: number;
  address?: string;
  codecs?: ReadonlyArray<{ pt: number; rtpmap?: string }>;
  direction?: string;
  version?: number;
}): string {
  const address = options.address ?? LOOPBACK;
  const codecs = options.codecs ?? [{ pt: 0, rtpmap: 'PCMU/8000' }];
  return [
    'v=0',
    `o=trunk 5000 ${options.version ?? 1} IN IP4 ${address}`,
    's=-',
    `c=IN IP4 ${address}`,
    't=0 0',
    `m=audio ${options.port} RTP/AVP ${codecs.map((c) => c.pt).join(' ')}`,
    ...codecs.filter((c) => c.rtpmap !== undefined).map((c) => `a=rtpmap:${c.pt} ${c.rtpmap}`),
    ...codecs.filter((c) => c.rtpmap?.startsWith('telephone-event') === true).map((c) => `a=fmtp:${c.pt} 0-16`),
    'a=ptime:20',
    `a=${options.direction ?? 'sendrecv'}`,
    '',
  ].join('\r\n');
}

/** The port of the first m=audio line of an SDP the gateway produced. */
export function sdpPort(sdp: string): number {
  const m = /^m=audio (\d+) /m.exec(sdp);
  if (m === null) throw new Error('no m=audio line');
  return Number(m[1]);
}

export function rtpPacket(f: { seq: number; ts: number; ssrc: number; pt?: number; marker?: boolean; payload: Buffer }): Buffer {
  return new RtpPacket(
    new RtpHeader({ payloadType: f.pt ?? 0, sequenceNumber: f.seq, timestamp: f.ts, ssrc: f.ssrc, marker: f.marker ?? false }),
    f.payload,
  ).serialize();
}

export interface RtpView {
  readonly marker: boolean;
  readonly pt: number;
  readonly seq: number;
  readonly ts: number;
  readonly ssrc: number;
  readonly payload: Buffer;
}

export function parseRtp(buf: Buffer): RtpView {
  const p = RtpPacket.deSerialize(buf);
  return { marker: p.header.marker, pt: p.header.payloadType, seq: p.header.sequenceNumber, ts: p.header.timestamp, ssrc: p.header.ssrc, payload: p.payload };
}

/** A 160-byte G.711 payload with a 4-byte counter at the start, so each packet can be recognised. */
export function countedPayload(n: number, tag = 0): Buffer {
  const payload = Buffer.alloc(160, 0xd5);
  payload.writeUInt32BE(n, 0);
  payload[4] = tag;
  return payload;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sequence numbers in arrival order never step back or repeat (mod 2^16, RFC 3550 A.1 style). */
export function sequenceRegressions(seqs: readonly number[]): number {
  let regressions = 0;
  for (let i = 1; i < seqs.length; i++) {
    const delta = (seqs[i]! - seqs[i - 1]!) & 0xffff;
    if (delta === 0 || delta >= 0x8000) regressions++;
  }
  return regressions;
}
