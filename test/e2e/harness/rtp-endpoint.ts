/**
 * A trunk's RTP endpoint for the end-to-end tests, run INSIDE a test namespace:
 *   node rtp-endpoint.ts <port> [--echo]
 * Binds 127.0.0.1:<port> and reports on stdout, one JSON line each:
 *   {"type":"listening","port":…}
 *   {"type":"event",…}   every packet that looks like an RFC 4733 telephone-event (dynamic PT, 4-byte payload):
 *                        pt, seq, ts, marker, event, end, volume, duration (RFC 4733 §2.3)
 *   {"type":"stats",…}   once a second while packets arrive: packets and bytes per payload type, source
 * With --echo every packet goes back to its source (symmetric RTP, like SIPp's -rtp_echo).
 * Exits on SIGTERM.
 */
import { createSocket } from 'node:dgram';

const port = Number(process.argv[2]);
const echo = process.argv.includes('--echo');
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('usage: rtp-endpoint.ts <port> [--echo]\n');
  process.exit(2);
}

const out = (value: object): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`);
};

const byPt: Record<number, { packets: number; bytes: number }> = {};
let total = 0;
let reported = 0;
let source = '';

const socket = createSocket('udp4');
socket.on('message', (msg, rinfo) => {
  // RTP version 2 only (RFC 3550 §5.1); RTCP (PT 200–204 with the marker bit folded in) is counted apart.
  if (msg.length < 12 || msg[0]! >> 6 !== 2) return;
  const pt = msg[1]! & 0x7f;
  const rtcp = msg[1]! >= 200 && msg[1]! <= 206;
  const key = rtcp ? msg[1]! : pt;
  const entry = (byPt[key] ??= { packets: 0, bytes: 0 });
  entry.packets++;
  entry.bytes += msg.length;
  total++;
  source = `${rinfo.address}:${rinfo.port}`;
  if (!rtcp) {
    const cc = msg[0]! & 0x0f;
    const x = (msg[0]! & 0x10) !== 0;
    let offset = 12 + cc * 4;
    if (x && msg.length >= offset + 4) offset += 4 + msg.readUInt16BE(offset + 2) * 4;
    const padding = (msg[0]! & 0x20) !== 0 ? msg[msg.length - 1]! : 0;
    const payload = msg.length - offset - padding;
    if (pt >= 96 && payload === 4) {
      out({
        type: 'event',
        pt,
        seq: msg.readUInt16BE(2),
        ts: msg.readUInt32BE(4),
        marker: (msg[1]! & 0x80) !== 0,
        event: msg[offset]!,
        end: (msg[offset + 1]! & 0x80) !== 0,
        volume: msg[offset + 1]! & 0x3f,
        duration: msg.readUInt16BE(offset + 2),
        source,
      });
    }
  }
  if (echo) socket.send(msg, rinfo.port, rinfo.address);
});

setInterval(() => {
  if (total === reported) return;
  reported = total;
  out({ type: 'stats', packets: total, byPt, source });
}, 1000).unref();

socket.bind(port, '127.0.0.1', () => out({ type: 'listening', port }));
process.on('SIGTERM', () => {
  out({ type: 'stats', packets: total, byPt, source });
  socket.close();
  process.exit(0);
});
