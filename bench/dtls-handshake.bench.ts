/**
 * DTLS-SRTP handshake CPU of the gateway's end: this process runs DtlsTransports (src/webrtc/dtls-transport.ts:
 * werift-dtls plus our record filtering, peer authentication and SRTP key export) with the per-process
 * certificate, as the leg does for every WebRTC call; a peer in a child process (its CPU is not counted) runs the
 * other end. They talk over loopback UDP, each datagram prefixed with a 4-octet handshake id so one socket per
 * side carries many handshakes at once. We report this process's CPU (user + system, so the socket syscalls
 * are in) per completed handshake, for each backend of werift-dtls.ts' setDtlsCryptoBackend: 'native'
 * (node:crypto, what the gateway runs) and 'werift' (werift-dtls' own JavaScript X25519/P-256, and its signing
 * key re-imported from PEM per signature; the certificate itself is parsed once either way, certificate.ts), and
 * for both DTLS roles (server is the usual one: the gateway answers a browser's actpass offer as passive).
 *
 *   node_modules/.bin/node bench/dtls-handshake.bench.ts [--handshakes=200] [--rounds=3]
 *     [--backend=both|native|werift] [--role=both|server|client] [--curve=x25519|secp256r1]
 *
 * The last line printed is a JSON summary (medians over rounds) for bench/run.ts.
 */
import dgram from 'node:dgram';
import { execFile, fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { createDtlsCertificate, type DtlsCertificate } from '../src/webrtc/certificate.ts';
import { NamedCurve, nativeDtlsCryptoStats } from '../src/webrtc/dtls-native-crypto.ts';
import { DtlsTransport, type DtlsRole } from '../src/webrtc/dtls-transport.ts';
import { dtls, setDtlsCryptoBackend } from '../src/webrtc/werift-dtls.ts';

const { values } = parseArgs({
  options: {
    peer: { type: 'boolean', default: false },
    'rows-only': { type: 'boolean', default: false },
    handshakes: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '3' },
    backend: { type: 'string', default: 'both' },
    role: { type: 'string', default: 'both' },
    curve: { type: 'string', default: 'x25519' },
  },
});

/** Handshakes in flight at once: enough that the measured process never idles waiting for the peer. */
const CONCURRENCY = 8;
const LOOPBACK = '127.0.0.1';

// werift's server takes the first curve of the client's list it supports (flight2); browsers list X25519 first.
// Our client lists werift's NamedCurveAlgorithmList, reordered here so either end picks the curve asked for.
const wanted = values.curve === 'secp256r1' ? NamedCurve.secp256r1 : NamedCurve.x25519;
(dtls.NamedCurveAlgorithmList as number[]).sort((a, b) => (a === wanted ? -1 : b === wanted ? 1 : 0));

type ToPeer = { port: number; fingerprint: DtlsCertificate['fingerprint'] } | { start: number; role: DtlsRole };
type FromPeer = { port: number; fingerprint: DtlsCertificate['fingerprint'] } | { ready: number };

/** Routes id-prefixed datagrams to transports and wraps what they send. */
class Wire {
  readonly socket = dgram.createSocket('udp4');
  readonly transports = new Map<number, DtlsTransport>();
  remotePort = 0;

  constructor() {
    this.socket.on('message', (msg) => this.transports.get(msg.readUInt32BE(0))?.handleDatagram(msg.subarray(4)));
  }

  async bind(): Promise<number> {
    this.socket.bind(0, LOOPBACK);
    await once(this.socket, 'listening');
    return this.socket.address().port;
  }

  sender(id: number): (packet: Buffer) => void {
    return (packet) => {
      const out = Buffer.allocUnsafe(packet.length + 4);
      out.writeUInt32BE(id, 0);
      packet.copy(out, 4);
      this.socket.send(out, this.remotePort, LOOPBACK);
    };
  }
}

if (values.peer) await runPeer();
else if (values.backend === 'both') await runEachBackend();
else await runGateway(values.backend as 'native' | 'werift');

/**
 * Each backend in a fresh process: certificate.ts shares the first parse of our certificate between associations,
 * so within one process the second backend would inherit the first one's key object (and its JIT state).
 */
async function runEachBackend(): Promise<void> {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--backend'));
  printHeader();
  const results: Record<string, unknown> = {};
  for (const backend of ['werift', 'native']) {
    const { stdout } = await promisify(execFile)(process.execPath, [fileURLToPath(import.meta.url), ...args, `--backend=${backend}`, '--rows-only']);
    const lines = stdout.trim().split('\n');
    for (const line of lines) if (!line.startsWith('{')) console.log(line);
    Object.assign(results, (JSON.parse(lines.at(-1)!) as { results: object }).results);
  }
  console.log(JSON.stringify({ curve: values.curve, handshakes: Number(values.handshakes), rounds: Number(values.rounds), results }));
}

function printHeader(): void {
  console.log(
    `DTLS 1.2 handshakes, ECDHE_ECDSA with AES_128_GCM, P-256 certificates, ${values.curve} key exchange; ${values.handshakes} per round, ` +
      `${CONCURRENCY} at a time, median of ${values.rounds} rounds. CPU of the gateway end's process per handshake (peer in a child process).`,
  );
  console.log('backend   role     CPU ms/handshake   handshakes/s (wall)');
}

async function runPeer(): Promise<void> {
  const certificate = await createDtlsCertificate();
  const wire = new Wire();
  const port = await wire.bind();
  let remoteFingerprint: DtlsCertificate['fingerprint'] | undefined;
  process.on('message', (message: ToPeer) => {
    if ('port' in message) {
      wire.remotePort = message.port;
      remoteFingerprint = message.fingerprint;
      process.send!({ port, fingerprint: certificate.fingerprint } satisfies FromPeer);
      return;
    }
    const id = message.start;
    const end = (): void => {
      wire.transports.get(id)?.close();
      wire.transports.delete(id);
    };
    const transport = new DtlsTransport({
      role: message.role,
      certificate,
      remoteFingerprints: [remoteFingerprint!],
      send: wire.sender(id),
      // Closing at once would drop a retransmission the other end may still need; it ends a second later.
      onConnected: () => void setTimeout(end, 1000),
      onFailed: end,
    });
    wire.transports.set(id, transport);
    transport.start();
    process.send!({ ready: id } satisfies FromPeer);
  });
  process.on('disconnect', () => process.exit(0));
}

interface RoundResult {
  /** CPU of this process per handshake, µs. */
  micros: number;
  /** Handshakes per second of wall time (the peer shares the machine). */
  perSecond: number;
}

async function runGateway(backend: 'native' | 'werift'): Promise<void> {
  const handshakes = Number(values.handshakes);
  const rounds = Number(values.rounds);
  const roles = values.role === 'both' ? (['server', 'client'] as const) : [values.role as DtlsRole];
  const certificate = await createDtlsCertificate();
  const wire = new Wire();
  const port = await wire.bind();
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--peer', `--curve=${values.curve}`], { execPath: process.execPath, stdio: 'inherit' });
  child.send({ port, fingerprint: certificate.fingerprint } satisfies ToPeer);
  const [peer] = (await once(child, 'message')) as [{ port: number; fingerprint: DtlsCertificate['fingerprint'] }];
  wire.remotePort = peer.port;
  const waitingForPeer = new Map<number, () => void>();
  child.on('message', (message: FromPeer) => {
    if ('ready' in message) waitingForPeer.get(message.ready)?.();
  });

  let nextId = 1;
  const handshake = (role: DtlsRole): Promise<void> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      const transport = new DtlsTransport({
        role,
        certificate,
        remoteFingerprints: [peer.fingerprint],
        send: wire.sender(id),
        onConnected: () => {
          // Keep answering the peer's retransmissions for a moment, as a leg would; then forget it.
          setTimeout(() => {
            transport.close();
            wire.transports.delete(id);
          }, 1000);
          resolve();
        },
        onFailed: reject,
      });
      wire.transports.set(id, transport);
      // Start once the peer's end exists, so a ClientHello (ours, or the peer's flight 1) is never lost.
      waitingForPeer.set(id, () => {
        waitingForPeer.delete(id);
        transport.start();
      });
      child.send({ start: id, role: role === 'server' ? 'client' : 'server' } satisfies ToPeer);
    });

  const round = async (role: DtlsRole, count: number): Promise<RoundResult> => {
    let started = 0;
    const wall = performance.now();
    const cpu = process.cpuUsage();
    const worker = async (): Promise<void> => {
      while (started < count) {
        started++;
        await handshake(role);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, worker));
    const used = process.cpuUsage(cpu);
    return { micros: (used.user + used.system) / count, perSecond: Math.round(count / ((performance.now() - wall) / 1000)) };
  };

  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };

  if (!values['rows-only']) printHeader();
  const results: Record<string, { role: DtlsRole; backend: string; cpuMsPerHandshake: number; perSecond: number; window: readonly [number, number] }> = {};
  setDtlsCryptoBackend(backend);
  for (const role of roles) {
    const warmup = Math.max(40, Math.round(handshakes / 5));
    const before = nativeDtlsCryptoStats.sharedSecrets;
    await round(role, warmup); // JIT, and (native) the one parse of our certificate
    const from = Number(process.hrtime.bigint() / 1000n);
    const measured: RoundResult[] = [];
    for (let i = 0; i < rounds; i++) measured.push(await round(role, handshakes));
    // Proof that the backend did the ECDH of every handshake on our side (native) or none of them (werift).
    const native = nativeDtlsCryptoStats.sharedSecrets - before;
    const expected = backend === 'native' ? warmup + rounds * handshakes : 0;
    if (native !== expected) throw new Error(`${backend}: ${native} native ECDH computations, expected ${expected}`);
    const cpuMs = median(measured.map((r) => r.micros)) / 1000;
    const perSecond = median(measured.map((r) => r.perSecond));
    // The measured rounds' monotonic-clock span, for bench/cpu-profile.ts' window when run under --cpu-prof.
    const window = [from, Number(process.hrtime.bigint() / 1000n)] as const;
    results[`${backend}-${role}`] = { role, backend, cpuMsPerHandshake: Number(cpuMs.toFixed(3)), perSecond, window };
    console.log(`${backend.padEnd(9)} ${role.padEnd(8)} ${cpuMs.toFixed(2).padStart(16)}   ${String(perSecond).padStart(19)}`);
  }
  child.disconnect();
  wire.socket.close();
  console.log(JSON.stringify({ curve: values.curve, handshakes, rounds, results }));
}
