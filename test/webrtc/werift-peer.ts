import dgram from 'node:dgram';
import { once } from 'node:events';
import { isIP } from 'node:net';
import { RTCPeerConnection, RTCRtpCodecParameters, type RTCRtpTransceiver, type RtpPacket } from 'werift';
import type { LocalParameters, RemoteParameters, WebRtcLeg } from '../../src/webrtc/index.ts';

/**
 * Test helpers: werift's full RTCPeerConnection plays the browser (a full ICE agent, controlling against our
 * ice-lite), restricted to loopback. The gateway side of the SDP is written by hand here — the SDP translation
 * module belongs to another helper — as the minimal audio WebRTC description a lite gateway produces.
 */

export const LOOPBACK = '127.0.0.1';
export const GATEWAY_SSRC = 1234;

export async function bindLoopbackSocket(): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  socket.bind(0, LOOPBACK);
  await once(socket, 'listening');
  return socket;
}

export interface WeriftPeer {
  pc: RTCPeerConnection;
  /** A silent loopback socket werift is pointed at as its STUN server (see createWeriftPeer). */
  stunSink: dgram.Socket;
  transceiver: RTCRtpTransceiver;
  received: RtpPacket[];
  rtcpTypes: number[];
  /** Every candidate pair werift considered, to prove nothing but loopback was used. */
  pairs: Array<{ local: string; remote: string }>;
}

/**
 * werift-ice falls back to stun.l.google.com whenever no STUN server is configured — `iceServers: []` is not
 * enough — so werift is pointed at a loopback socket of ours that never answers, and gives up on
 * server-reflexive candidates after 0.2 s. Nothing leaves loopback.
 */
export async function createWeriftPeer(): Promise<WeriftPeer> {
  const pairs: WeriftPeer['pairs'] = [];
  const stunSink = await bindLoopbackSocket();
  stunSink.on('message', () => {});
  const pc = new RTCPeerConnection({
    iceServers: [{ urls: `stun:${LOOPBACK}:${stunSink.address().port}` }],
    iceStunGatherTimeout: 0.2,
    iceUseIpv4: false, // host addresses from os.networkInterfaces() would include eth0 (192.0.2.2)
    iceUseIpv6: false,
    iceAdditionalHostAddresses: [LOOPBACK],
    iceInterfaceAddresses: { udp4: LOOPBACK },
    iceFilterCandidatePair: (pair) => {
      pairs.push({ local: pair.localCandidate.host, remote: pair.remoteCandidate.host });
      return pair.localCandidate.host === LOOPBACK && pair.remoteCandidate.host === LOOPBACK;
    },
    codecs: { audio: [new RTCRtpCodecParameters({ mimeType: 'audio/PCMU', clockRate: 8000, payloadType: 0 })], video: [] },
  });
  const transceiver = pc.addTransceiver('audio', { direction: 'sendrecv' });
  const received: RtpPacket[] = [];
  const rtcpTypes: number[] = [];
  transceiver.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((rtp) => received.push(rtp)));
  return { pc, stunSink, transceiver, received, rtcpTypes, pairs };
}

export function subscribeRtcp(peer: WeriftPeer): void {
  peer.pc.dtlsTransports[0]!.onRtcp.subscribe((packet) => peer.rtcpTypes.push(packet.type));
}

export interface ParsedWeriftSdp {
  remote: RemoteParameters;
  mid: string;
  candidateIps: string[];
}

export function parseWeriftSdp(sdp: string): ParsedWeriftSdp {
  const value = (re: RegExp): string => {
    const match = re.exec(sdp);
    if (match === null) throw new Error(`SDP lacks ${re}`);
    return match[1]!;
  };
  const fingerprints = [...sdp.matchAll(/a=fingerprint:(\S+) (\S+)/g)].map((m) => ({ algorithm: m[1]!, value: m[2]! }));
  return {
    remote: {
      iceUfrag: value(/a=ice-ufrag:(\S+)/),
      icePwd: value(/a=ice-pwd:(\S+)/),
      fingerprints,
      setup: value(/a=setup:(\S+)/) as RemoteParameters['setup'],
    },
    mid: value(/a=mid:(\S+)/),
    candidateIps: [...sdp.matchAll(/a=candidate:\S+ \d+ \S+ \d+ (\S+) \d+ typ/g)].map((m) => m[1]!),
  };
}

/** The gateway's minimal audio description: ice-lite, rtcp-mux, one host candidate per advertised address. */
export function gatewaySdp(local: LocalParameters, setup: string, mid: string, overrides: { icePwd?: string } = {}): string {
  const first = local.candidates[0]!;
  return [
    'v=0',
    'o=- 1 1 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=ice-lite',
    `a=group:BUNDLE ${mid}`,
    'a=msid-semantic:WMS *',
    `m=audio ${first.port} UDP/TLS/RTP/SAVPF 0`,
    `c=IN IP4 ${first.ip}`,
    `a=mid:${mid}`,
    'a=sendrecv',
    'a=rtcp-mux',
    `a=ice-ufrag:${local.iceUfrag}`,
    `a=ice-pwd:${overrides.icePwd ?? local.icePwd}`,
    `a=fingerprint:${local.fingerprint.algorithm} ${local.fingerprint.value}`,
    `a=setup:${setup}`,
    'a=rtpmap:0 PCMU/8000',
    ...local.candidates.map((c) => `a=candidate:${c.foundation} ${c.component} ${c.transport} ${c.priority} ${c.ip} ${c.port} typ ${c.type}`),
    'a=end-of-candidates',
    `a=ssrc:${GATEWAY_SSRC} cname:gateway`,
    '',
  ].join('\r\n');
}

/** werift offers (actpass), the leg answers. Returns what werift offered. */
export async function weriftOffers(
  peer: WeriftPeer,
  leg: WebRtcLeg,
  options: { fingerprintOverride?: RemoteParameters['fingerprints']; icePwdOverride?: string } = {},
): Promise<ParsedWeriftSdp> {
  await peer.pc.setLocalDescription(await peer.pc.createOffer());
  await waitFor(() => peer.pc.iceGatheringState === 'complete', 5000);
  const offer = parseWeriftSdp(peer.pc.localDescription!.sdp);
  leg.setRemoteParameters({ ...offer.remote, fingerprints: options.fingerprintOverride ?? offer.remote.fingerprints });
  await peer.pc.setRemoteDescription({
    type: 'answer',
    sdp: gatewaySdp(leg.localParameters(), leg.localSetup(), offer.mid, { icePwd: options.icePwdOverride }),
  });
  return offer;
}

/** The leg offers (actpass), werift answers. Returns werift's answer. */
export async function gatewayOffers(peer: WeriftPeer, leg: WebRtcLeg): Promise<ParsedWeriftSdp> {
  await peer.pc.setRemoteDescription({ type: 'offer', sdp: gatewaySdp(leg.localParameters(), leg.localSetup(), '0') });
  await peer.pc.setLocalDescription(await peer.pc.createAnswer());
  await waitFor(() => peer.pc.iceGatheringState === 'complete', 5000);
  const answer = parseWeriftSdp(peer.pc.localDescription!.sdp);
  leg.setRemoteParameters(answer.remote);
  return answer;
}

export async function waitFor(predicate: () => boolean, timeoutMs: number, intervalMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export function isLoopback(ip: string): boolean {
  return isIP(ip) === 4 ? ip.startsWith('127.') : ip === '::1';
}
