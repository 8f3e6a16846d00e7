/**
 * Readiness probe, run INSIDE a test namespace (the test process cannot reach that namespace's loopback):
 *   node probe.ts http://127.0.0.1:8080/ sip-udp:127.0.0.1:5060 [--timeout-ms 15000]
 * Retries each target until it answers: an HTTP URL must answer 200; `sip-udp:host:port` must answer a SIP
 * OPTIONS with any SIP response. Prints one JSON line per target when it is ready; exits 0 when all are, 1 when
 * the deadline passes (printing what failed last).
 */
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

const argv = process.argv.slice(2);
let timeoutMs = 15_000;
const targets: string[] = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--timeout-ms') timeoutMs = Number(argv[++i]);
  else targets.push(argv[i]!);
}
const deadline = Date.now() + timeoutMs;

async function httpOnce(url: string): Promise<string | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status === 200 ? null : `HTTP ${res.status}`;
  } catch (error) {
    return (error as Error).message;
  }
}

function sipOnce(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const branch = `z9hG4bK${randomBytes(6).toString('hex')}`;
    const timer = setTimeout(() => finish('no SIP response'), 1000);
    function finish(result: string | null): void {
      clearTimeout(timer);
      socket.close();
      resolve(result);
    }
    socket.on('error', (error) => finish(error.message));
    socket.on('message', (msg) => {
      if (msg.toString('latin1').startsWith('SIP/2.0 ')) finish(null);
    });
    socket.bind(0, '127.0.0.1', () => {
      const { port: local } = socket.address();
      const request =
        `OPTIONS sip:${host}:${port} SIP/2.0\r\n` +
        `Via: SIP/2.0/UDP 127.0.0.1:${local};branch=${branch};rport\r\n` +
        `Max-Forwards: 70\r\n` +
        `From: <sip:probe@127.0.0.1>;tag=${randomBytes(4).toString('hex')}\r\n` +
        `To: <sip:${host}:${port}>\r\n` +
        `Call-ID: probe-${randomBytes(8).toString('hex')}\r\n` +
        `CSeq: 1 OPTIONS\r\n` +
        `Contact: <sip:probe@127.0.0.1:${local}>\r\n` +
        `Content-Length: 0\r\n\r\n`;
      socket.send(request, port, host);
    });
  });
}

async function ready(target: string): Promise<void> {
  let last = 'not tried';
  let ok = false;
  while (!ok && Date.now() < deadline) {
    if (target.startsWith('http')) {
      const r = await httpOnce(target);
      if (r === null) ok = true;
      else last = r;
    } else {
      const m = /^sip-udp:(.+):(\d+)$/.exec(target);
      if (!m) throw new Error(`bad target ${target}`);
      const r = await sipOnce(m[1]!, Number(m[2]));
      if (r === null) ok = true;
      else last = r;
    }
    if (!ok) await sleep(100);
  }
  if (!ok) {
    process.stdout.write(`${JSON.stringify({ target, ready: false, last })}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ target, ready: true })}\n`);
}

await Promise.all(targets.map(ready));
process.exit(0);
