import dgram from 'node:dgram';
import { once } from 'node:events';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RtcpRrPacket, RtpHeader, RtpPacket } from 'werift';
import { getProcessCertificate, WebRtcLeg, type DtlsCertificate, type WebRtcLegOptions } from '../../src/webrtc/index.ts';
import type { GatewayError } from '../../src/errors.ts';
import {
  bindLoopbackSocket,
  createWeriftPeer,
  GATEWAY_SSRC,
  gatewayOffers,
  isLoopback,
  LOOPBACK,
  subscribeRtcp,
  waitFor,
  weriftOffers,
  type ParsedWeriftSdp,
  type WeriftPeer,
} from './werift-peer.ts';

let certificate: DtlsCertificate;
/** The socket each leg was given (the leg owns it; tests only listen to it, as a tap on the wire would). */
const sockets = new WeakMap<WebRtcLeg, dgram.Socket>();
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  certificate = await getProcessCertificate();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function newLeg(options: Partial<WebRtcLegOptions> = {}): Promise<WebRtcLeg> {
  const socket = await bindLoopbackSocket();
  const leg = new WebRtcLeg({ socket, advertisedAddresses: [LOOPBACK], certificate, ...options });
  sockets.set(leg, socket);
  cleanups.push(() => leg.close());
  return leg;
}

async function newPeer(): Promise<WeriftPeer> {
  const peer = await createWeriftPeer();
  cleanups.push(() => peer.stunSink.close());
  cleanups.push(() => peer.pc.close());
  return peer;
}

function connected(leg: WebRtcLeg): Promise<void> {
  return new Promise((resolve, reject) => {
    leg.once('connected', resolve);
    leg.once('failed', reject);
  });
}

/** A leg and a werift browser, connected: the browser offered (actpass), the leg answered. */
async function connectedLeg(options: Partial<WebRtcLegOptions> = {}): Promise<{ leg: WebRtcLeg; peer: WeriftPeer; offer: ParsedWeriftSdp }> {
  const leg = await newLeg(options);
  const peer = await newPeer();
  const up = connected(leg);
  const offer = await weriftOffers(peer, leg);
  await up;
  return { leg, peer, offer };
}

function rtp(seq: number, payload: string): Buffer {
  return new RtpPacket(new RtpHeader({ payloadType: 0, sequenceNumber: seq, timestamp: seq * 160, ssrc: GATEWAY_SSRC }), Buffer.from(payload)).serialize();
}

/** werift → leg and leg → werift, RTP and RTCP; payload bytes must arrive unchanged. */
async function exchangeMedia(leg: WebRtcLeg, peer: WeriftPeer): Promise<void> {
  const inbound: Buffer[] = [];
  const inboundRtcp: Buffer[] = [];
  leg.onRtp = (buf, length) => inbound.push(Buffer.from(buf.subarray(0, length)));
  leg.onRtcp = (buf, length) => inboundRtcp.push(Buffer.from(buf.subarray(0, length)));
  await waitFor(() => peer.pc.connectionState === 'connected', 5000); // werift may finish after the leg
  subscribeRtcp(peer);

  const fromBrowser = Buffer.from([0x00, 0xff, 0x80, 0x7f, 0x55, 0xaa, 0x01, 0xfe]);
  await peer.transceiver.sender.sendRtp(new RtpPacket(new RtpHeader({ payloadType: 0, sequenceNumber: 100, timestamp: 1 }), fromBrowser));
  const rr = new RtcpRrPacket({ ssrc: 0x01020304, reports: [] });
  await peer.pc.dtlsTransports[0]!.sendRtcp([rr]);
  const toBrowser = rtp(7, 'hello from the gateway');
  leg.sendRtp(toBrowser, toBrowser.length);
  const legRr = new RtcpRrPacket({ ssrc: GATEWAY_SSRC, reports: [] }).serialize();
  leg.sendRtcp(legRr, legRr.length);

  await waitFor(() => inbound.length > 0 && inboundRtcp.length > 0 && peer.received.length > 0 && peer.rtcpTypes.includes(201), 5000);
  expect(RtpPacket.deSerialize(inbound[0]!).payload).toEqual(fromBrowser);
  expect(inboundRtcp.some((packet) => packet.equals(rr.serialize()))).toBe(true);
  const got = peer.received[0]!;
  expect(got.payload.toString()).toBe('hello from the gateway');
  expect(got.header.ssrc).toBe(GATEWAY_SSRC);
  expect(got.header.sequenceNumber).toBe(7);
  const stats = leg.stats();
  expect(stats.srtpAuthFailures).toBe(0);
  expect(stats.packetsOut).toBe(2);
  expect(stats.rtcpPacketsOut).toBe(1);
}

function expectLoopbackOnly(leg: WebRtcLeg, peer: WeriftPeer, weriftCandidateIps: string[]): void {
  expect(leg.localParameters().candidates.every((c) => isLoopback(c.ip))).toBe(true);
  expect(weriftCandidateIps.length).toBeGreaterThan(0);
  expect(weriftCandidateIps.every(isLoopback)).toBe(true);
  expect(peer.pairs.every((p) => isLoopback(p.local) && isLoopback(p.remote))).toBe(true);
  expect(isLoopback(leg.stats().selectedRemote!.address)).toBe(true);
}

describe('WebRtcLeg construction', () => {
  it('requires a bound socket and advertised addresses its family can reach', async () => {
    const unbound = dgram.createSocket('udp4');
    expect(() => new WebRtcLeg({ socket: unbound, advertisedAddresses: [LOOPBACK], certificate })).toThrowError(
      expect.objectContaining({ code: 'WEBRTC_CONFIG' }),
    );
    unbound.close();
    const socket = await bindLoopbackSocket();
    cleanups.push(() => socket.close());
    expect(() => new WebRtcLeg({ socket, advertisedAddresses: ['::1'], certificate })).toThrowError(expect.objectContaining({ code: 'WEBRTC_CONFIG' }));
  });

  it('offers exactly the advertised addresses, on the socket port, as ice-lite host candidates with our fingerprint', async () => {
    const leg = await newLeg();
    const params = leg.localParameters();
    expect(params.iceLite).toBe(true);
    expect(params.candidates).toEqual([
      { foundation: '1', component: 1, transport: 'udp', priority: 2130706431, ip: LOOPBACK, port: findSocket(leg).address().port, type: 'host' },
    ]);
    expect(params.fingerprint).toEqual(certificate.fingerprint);
    expect(leg.localSetup()).toBe('actpass');
    expect(() => leg.dtlsRole()).toThrow();
    expect(() => leg.setRemoteParameters({ iceUfrag: 'x', icePwd: 'y', fingerprints: [], setup: 'active' })).toThrowError(
      expect.objectContaining({ code: 'WEBRTC_INVALID_REMOTE_PARAMETERS' }),
    );
  });
});

describe('WebRtcLeg against a werift browser on loopback', () => {
  it('answers an actpass offer as passive (DTLS server) and relays RTP/RTCP both ways unchanged', async () => {
    const leg = await newLeg();
    const peer = await newPeer();
    const up = connected(leg);
    const offer = await weriftOffers(peer, leg);
    expect(leg.localSetup()).toBe('passive');
    expect(leg.dtlsRole()).toBe('server');
    await up;
    expect(leg.stats()).toMatchObject({ state: 'connected', dtlsRole: 'server', srtpProfile: 'SRTP_AES128_CM_HMAC_SHA1_80' });
    expectLoopbackOnly(leg, peer, offer.candidateIps);
    await exchangeMedia(leg, peer);
  });

  it('answers active (DTLS client) and starts the handshake as soon as ICE validated the browser', async () => {
    const leg = await newLeg({ setupWhenAnswering: 'active' });
    const peer = await newPeer();
    const up = connected(leg);
    const offer = await weriftOffers(peer, leg);
    expect(leg.localSetup()).toBe('active');
    expect(leg.dtlsRole()).toBe('client');
    await up;
    expect(leg.stats().dtlsRole).toBe('client');
    expectLoopbackOnly(leg, peer, offer.candidateIps);
    await exchangeMedia(leg, peer);
  });

  it('offers actpass; the browser answering active makes the gateway the DTLS server', async () => {
    const leg = await newLeg();
    expect(leg.localSetup()).toBe('actpass');
    const peer = await newPeer();
    const up = connected(leg);
    const answer = await gatewayOffers(peer, leg);
    expect(answer.remote.setup).toBe('active');
    await up;
    expect(leg.dtlsRole()).toBe('server');
    expectLoopbackOnly(leg, peer, answer.candidateIps);
    await exchangeMedia(leg, peer);
  });

  it.each(['passive', 'active'] as const)('negotiates SRTP_AEAD_AES_128_GCM when that is all it accepts (answering %s)', async (setup) => {
    const { leg, peer } = await connectedLeg({ srtpProfiles: ['SRTP_AEAD_AES_128_GCM'], setupWhenAnswering: setup });
    expect(leg.stats().srtpProfile).toBe('SRTP_AEAD_AES_128_GCM');
    await exchangeMedia(leg, peer);
  });

  it('fails with DTLS_FINGERPRINT_MISMATCH when a=fingerprint does not name the certificate, and delivers no media', async () => {
    const leg = await newLeg();
    const peer = await newPeer();
    let delivered = 0;
    leg.onRtp = () => delivered++;
    const failure = new Promise<GatewayError>((resolve) => leg.once('failed', resolve));
    const wrong = { algorithm: 'sha-256', value: certificate.fingerprint.value }; // our own, not werift's
    await weriftOffers(peer, leg, { fingerprintOverride: [wrong] });
    const reason = await failure;
    expect(reason.code).toBe('DTLS_FINGERPRINT_MISMATCH');
    expect(leg.state).toBe('failed');
    // werift completed its side of the handshake and sends media; none of it may reach the consumer.
    await waitFor(() => peer.pc.connectionState === 'connected', 5000);
    await peer.transceiver.sender.sendRtp(new RtpPacket(new RtpHeader({ payloadType: 0, sequenceNumber: 1 }), Buffer.from('x')));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(delivered).toBe(0);
    const probe = rtp(1, 'nope');
    leg.sendRtp(probe, probe.length);
    expect(leg.stats().packetsOut).toBe(0);
    expect(leg.stats().sendDropsNotReady).toBe(1);
  });

  it('drops a replayed SRTP packet and counts it', async () => {
    const { leg, peer } = await connectedLeg();
    await waitFor(() => peer.pc.connectionState === 'connected', 5000);
    const captured: Buffer[] = [];
    // Tap the raw datagrams the leg's socket receives (ciphertext), as an attacker on the path would.
    findSocket(leg).on('message', (msg: Buffer) => {
      if (msg[0]! >= 128 && msg[0]! <= 191 && !(msg[1]! >= 192 && msg[1]! <= 223)) captured.push(Buffer.from(msg));
    });
    let delivered = 0;
    leg.onRtp = () => delivered++;
    await peer.transceiver.sender.sendRtp(new RtpPacket(new RtpHeader({ payloadType: 0, sequenceNumber: 500 }), Buffer.from('once')));
    await waitFor(() => delivered === 1 && captured.length === 1, 5000);
    await peer.pc.iceTransports[0]!.connection.send(captured[0]!); // same bytes, from the validated address
    await waitFor(() => leg.stats().replayDrops === 1, 5000);
    expect(delivered).toBe(1);
    expect(leg.stats().srtpAuthFailures).toBe(0);
  });

  it('stops sending once consent expires without fresh checks (RFC 7675)', async () => {
    // werift refreshes consent every 4–6 s; a 1.5 s timeout expires between two of its checks.
    const { leg, peer } = await connectedLeg({ consentTimeoutMs: 1500 });
    const failure = new Promise<GatewayError>((resolve) => leg.once('failed', resolve));
    const before = rtp(1, 'before');
    leg.sendRtp(before, before.length);
    await waitFor(() => peer.received.length === 1, 5000);
    expect((await failure).code).toBe('ICE_CONSENT_LOST');
    const after = rtp(2, 'after');
    leg.sendRtp(after, after.length);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(peer.received.length).toBe(1);
    expect(leg.stats()).toMatchObject({ state: 'failed', packetsOut: 1, sendDropsNotReady: 1 });
    expect(leg.stats().ice.consentExpiries).toBe(1);
  });

  it('never connects when the browser checks with a wrong ICE password', async () => {
    const leg = await newLeg();
    const peer = await newPeer();
    let up = false;
    leg.on('connected', () => (up = true));
    await weriftOffers(peer, leg, { icePwdOverride: 'WrongPasswordWrongPassword' });
    await waitFor(() => leg.stats().ice.checksRejected >= 2, 5000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(up).toBe(false);
    expect(leg.stats()).toMatchObject({ state: 'connecting', selectedRemote: undefined, iceChecks: 0 });
  });

  it('ignores DTLS ClientHellos from an address that passed no ICE check', async () => {
    const { leg, peer } = await connectedLeg();
    const stranger = await bindLoopbackSocket();
    cleanups.push(() => stranger.close());
    const hello = Buffer.alloc(60);
    hello[0] = 22; // handshake record
    hello.writeUInt16BE(0xfefd, 1);
    hello.writeUInt16BE(47, 11);
    hello[13] = 1; // ClientHello
    const port = leg.localParameters().candidates[0]!.port;
    for (let i = 0; i < 100; i++) stranger.send(hello, port, LOOPBACK);
    await waitFor(() => leg.stats().unexpectedSourceDrops >= 100, 5000);
    expect(leg.stats().dtls.datagramsIn).toBeLessThan(10); // only werift's own handshake reached DTLS
    expect(leg.stats().state).toBe('connected');
    await exchangeMedia(leg, peer);
  });

  it('handles re-offers: same parameters change nothing; new ICE credentials restart ICE but keep DTLS and media', async () => {
    // werift 0.25 does not rerun connectivity checks after its own ICE restart, so the browser side of the
    // restart is simulated here by re-offering new credentials; media must keep flowing on the previously
    // selected pair meanwhile (RFC 8445 §9, §12.1), and the DTLS association must survive (RFC 8842 §5).
    const { leg, peer, offer } = await connectedLeg();
    let reconnected = 0;
    leg.on('connected', () => reconnected++);
    const before = leg.localParameters();

    leg.setRemoteParameters(offer.remote);
    expect(leg.localParameters()).toEqual(before);

    leg.setRemoteParameters({ ...offer.remote, iceUfrag: 'rst1', icePwd: 'restartedpasswordrestarted' });
    const after = leg.localParameters();
    expect(after.iceUfrag).not.toBe(before.iceUfrag);
    expect(after.icePwd).not.toBe(before.icePwd);
    expect(after.fingerprint).toEqual(before.fingerprint);
    expect(leg.localSetup()).toBe('passive');
    expect(leg.stats()).toMatchObject({ state: 'connected', dtlsState: 'connected' });
    expect(leg.stats().ice.restarts).toBe(1);
    await exchangeMedia(leg, peer);
    expect(reconnected).toBe(0);
  });

  it('close() sends the browser an encrypted close_notify', async () => {
    const { leg, peer } = await connectedLeg();
    await waitFor(() => peer.pc.connectionState === 'connected', 5000);
    leg.close();
    await waitFor(() => peer.pc.dtlsTransports[0]!.state === 'closed', 5000);
  });

  it('close() is idempotent: closes the socket and emits closed once', async () => {
    const leg = await newLeg();
    const socket = findSocket(leg);
    let closed = 0;
    leg.on('closed', () => closed++);
    const socketClosed = once(socket, 'close');
    leg.close();
    leg.close();
    await socketClosed;
    expect(closed).toBe(1);
    expect(leg.state).toBe('closed');
    const packet = rtp(1, 'x');
    leg.sendRtp(packet, packet.length);
    expect(leg.stats().sendDropsNotReady).toBe(1);
  });
});

function findSocket(leg: WebRtcLeg): dgram.Socket {
  return sockets.get(leg)!;
}
