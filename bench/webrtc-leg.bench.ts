/**
 * WebRTC leg per-packet cost: one werift "browser" (in a child process, so its CPU is not counted) sends
 * `calls` × 50 packets/s of 20 ms PCMU-sized RTP over real loopback SRTP; the leg (this process) unprotects
 * each packet, hands it to onRtp, and the consumer sends it straight back through sendRtp (protect + send), as
 * a relay does. We report this process's CPU (user+system, so syscalls included) per relayed packet, net of
 * an idle baseline, plus a socket-free crypto-only figure.
 *
 *   node bench/webrtc-leg.bench.ts [--calls=50] [--seconds=10] [--profile=gcm|cm80]
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    peer: { type: 'boolean', default: false },
    calls: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '10' },
    profile: { type: 'string', default: 'gcm' },
  },
});

const PACKET_INTERVAL_MS = 20;
const PAYLOAD = Buffer.alloc(160, 0xd5); // 20 ms of PCMU
const GATEWAY_SSRC = 0x4a4a4a4a;

if (values.peer) await runPeer();
else await runGateway();

// ---- the browser: werift in a child process ------------------------------------------------------------------

async function runPeer(): Promise<void> {
  const { RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, RtpPacket } = await import('werift');
  // werift-ice falls back to stun.l.google.com without a STUN server: give it a silent loopback one instead.
  const stunSink = dgram.createSocket('udp4');
  stunSink.bind(0, '127.0.0.1');
  await once(stunSink, 'listening');
  stunSink.on('message', () => {});
  const pc = new RTCPeerConnection({
    iceServers: [{ urls: `stun:127.0.0.1:${stunSink.address().port}` }],
    iceStunGatherTimeout: 0.2,
    iceUseIpv4: false,
    iceUseIpv6: false,
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceInterfaceAddresses: { udp4: '127.0.0.1' },
    codecs: { audio: [new RTCRtpCodecParameters({ mimeType: 'audio/PCMU', clockRate: 8000, payloadType: 0 })], video: [] },
  });
  const transceiver = pc.addTransceiver('audio', { direction: 'sendrecv' });
  let echoed = 0;
  transceiver.onTrack.subscribe((track) => track.onReceiveRtp.subscribe(() => echoed++));
  await pc.setLocalDescription(await pc.createOffer());
  while (pc.iceGatheringState !== 'complete') await new Promise((r) => setTimeout(r, 10));
  process.send!({ offer: pc.localDescription!.sdp });
  const [message] = (await once(process, 'message')) as [{ answer: string; calls: number; seconds: number }];
  await pc.setRemoteDescription({ type: 'answer', sdp: message.answer });
  while (pc.connectionState !== 'connected') await new Promise((r) => setTimeout(r, 10));
  process.send!({ connected: true });
  await once(process, 'message'); // start
  let seq = 0;
  let sent = 0;
  const timer = setInterval(() => {
    for (let i = 0; i < message.calls; i++) {
      seq = (seq + 1) & 0xffff;
      void transceiver.sender.sendRtp(new RtpPacket(new RtpHeader({ payloadType: 0, sequenceNumber: seq, timestamp: seq * 160 }), PAYLOAD));
      sent++;
    }
  }, PACKET_INTERVAL_MS);
  await once(process, 'message'); // stop
  clearInterval(timer);
  await new Promise((r) => setTimeout(r, 300));
  process.send!({ sent, echoed });
  await pc.close();
  stunSink.close();
  process.exit(0);
}

// ---- the gateway: the leg under test ---------------------------------------------------------------------------

async function runGateway(): Promise<void> {
  const { getProcessCertificate, WebRtcLeg } = await import('../src/webrtc/index.ts');
  const calls = Number(values.calls);
  const seconds = Number(values.seconds);
  const profiles = values.profile === 'cm80' ? (['SRTP_AES128_CM_HMAC_SHA1_80'] as const) : (['SRTP_AEAD_AES_128_GCM'] as const);
  const certificate = await getProcessCertificate();
  const socket = dgram.createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const leg = new WebRtcLeg({ socket, advertisedAddresses: ['127.0.0.1'], certificate, srtpProfiles: profiles, sendSlots: 64 });
  let relayed = 0;
  leg.onRtp = (buf, length) => {
    relayed++;
    buf.writeUInt32BE(GATEWAY_SSRC, 8); // a relay rewrites the SSRC in place; werift expects the signalled one
    leg.sendRtp(buf, length);
  };

  const child = fork(fileURLToPath(import.meta.url), ['--peer'], { execPath: process.execPath, stdio: 'inherit' });
  const [{ offer }] = (await once(child, 'message')) as [{ offer: string }];
  const get = (re: RegExp): string => re.exec(offer)![1]!;
  leg.setRemoteParameters({
    iceUfrag: get(/a=ice-ufrag:(\S+)/),
    icePwd: get(/a=ice-pwd:(\S+)/),
    fingerprints: [{ algorithm: get(/a=fingerprint:(\S+) /), value: get(/a=fingerprint:\S+ (\S+)/) }],
    setup: 'actpass',
  });
  const local = leg.localParameters();
  const c = local.candidates[0]!;
  const mid = get(/a=mid:(\S+)/);
  const answer = [
    'v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=ice-lite', `a=group:BUNDLE ${mid}`,
    `m=audio ${c.port} UDP/TLS/RTP/SAVPF 0`, `c=IN IP4 ${c.ip}`, `a=mid:${mid}`, 'a=sendrecv', 'a=rtcp-mux',
    `a=ice-ufrag:${local.iceUfrag}`, `a=ice-pwd:${local.icePwd}`, `a=fingerprint:sha-256 ${local.fingerprint.value}`,
    `a=setup:${leg.localSetup()}`, 'a=rtpmap:0 PCMU/8000', `a=candidate:1 1 udp ${c.priority} ${c.ip} ${c.port} typ host`,
    `a=ssrc:${GATEWAY_SSRC} cname:gateway`, '',
  ].join('\r\n');
  child.send({ answer, calls, seconds });
  await once(child, 'message'); // werift connected

  // Idle baseline: what this process burns with the leg connected but no media (timers, GC).
  const idle0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, 1000));
  const idle = process.cpuUsage(idle0);
  const idlePerSecond = idle.user + idle.system;

  child.send({ start: true });
  await new Promise((r) => setTimeout(r, 1000)); // warm-up
  const relayed0 = relayed;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const cpu = process.cpuUsage(cpu0);
  const wall = (performance.now() - t0) / 1000;
  const packets = relayed - relayed0;
  child.send({ stop: true });
  const [peer] = (await once(child, 'message')) as [{ sent: number; echoed: number }];

  const usedMicros = cpu.user + cpu.system - idlePerSecond * wall;
  const stats = leg.stats();
  const cryptoOnly = await measureCryptoOnly(profiles[0]);
  const result = {
    bench: 'webrtc-leg',
    profile: stats.srtpProfile,
    calls,
    seconds: Number(wall.toFixed(2)),
    packetsRelayed: packets,
    packetsPerSecond: Math.round(packets / wall),
    cpuMicrosPerRelayedPacket: Number((usedMicros / packets).toFixed(2)),
    cpuPercentOfOneCore: Number(((usedMicros / (wall * 1e6)) * 100).toFixed(1)),
    idleCpuPercent: Number(((idlePerSecond / 1e6) * 100).toFixed(2)),
    cryptoOnlyMicrosPerPacket: cryptoOnly,
    peerSent: peer.sent,
    peerReceivedEchoes: peer.echoed,
    srtpAuthFailures: stats.srtpAuthFailures,
    replayDrops: stats.replayDrops,
    sendDropsBackpressure: stats.sendDropsBackpressure,
    sendErrors: stats.sendErrors,
  };
  console.log(JSON.stringify(result));
  leg.close();
  child.kill();
}

/** unprotect + protect of a 172-octet RTP packet through the SRTP contexts alone (no sockets). */
async function measureCryptoOnly(profile: 'SRTP_AES128_CM_HMAC_SHA1_80' | 'SRTP_AEAD_AES_128_GCM'): Promise<number> {
  const { SrtpContext, srtpKeyLengths } = await import('../src/webrtc/srtp/index.ts');
  const { keyLength, saltLength } = srtpKeyLengths(profile);
  const keys = { profile, masterKey: Buffer.alloc(keyLength, 1), masterSalt: Buffer.alloc(saltLength, 2) };
  const sender = new SrtpContext(keys);
  const receiver = new SrtpContext(keys);
  const relayOut = new SrtpContext({ ...keys, masterKey: Buffer.alloc(keyLength, 3) });
  const packet = Buffer.alloc(172);
  packet[0] = 0x80;
  packet.writeUInt32BE(0xdecafbad, 8);
  const wire = Buffer.alloc(256);
  const plain = Buffer.alloc(256);
  const out = Buffer.alloc(256);
  const n = 100_000;
  const encrypted: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    packet.writeUInt16BE(i & 0xffff, 2);
    packet.writeUInt32BE(i * 160, 4);
    const len = sender.protectRtp(packet, 172, wire);
    encrypted.push(Buffer.from(wire.subarray(0, len)));
  }
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const e = encrypted[i]!;
    const len = receiver.unprotectRtp(e, e.length, plain);
    relayOut.protectRtp(plain, len, out);
  }
  const used = process.cpuUsage(start);
  return Number(((used.user + used.system) / n).toFixed(2));
}
