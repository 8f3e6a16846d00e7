/**
 * Parse + serialize throughput of a typical browser INVITE (JsSIP over WSS with a Chromium audio offer, ~1.3 KB),
 * on one core. `node bench/sip-parse.bench.ts` prints one JSON line; `benchSipParse()` is what bench/run.ts calls.
 * Each iteration parses the datagram, reads the values the transaction layer reads (top Via branch, CSeq,
 * From tag, Call-ID) and serializes the message back, as a stateful forwarder would.
 */
import { parseSipMessage } from '../src/signaling/parser.ts';
import { serializeSipMessage } from '../src/signaling/serializer.ts';
import { callId, cseq, fromTag, topVia } from '../src/signaling/header-accessors.ts';
import { typicalInvite } from '../test/fuzz/typical-invite.ts';

export interface SipParseBenchResult {
  name: 'sip-parse';
  messageBytes: number;
  iterations: number;
  /** Wall-clock seconds of the measured run. */
  seconds: number;
  /** Process CPU seconds (user + system) of the measured run: the honest "one core" figure on a shared machine. */
  cpuSeconds: number;
  /** Parse + serialize per CPU second. */
  perSecond: number;
  /** Parse + serialize per wall-clock second (lower when other processes share the core). */
  wallPerSecond: number;
  microsecondsPerMessage: number;
}

function runFor(data: Buffer, milliseconds: number): { iterations: number; seconds: number; cpuSeconds: number; sink: number } {
  let iterations = 0;
  let sink = 0;
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(milliseconds) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 1000; i++) {
      const msg = parseSipMessage(data);
      sink += topVia(msg).params.size + cseq(msg).seq + (fromTag(msg)?.length ?? 0) + callId(msg).length;
      sink += serializeSipMessage(msg).length;
    }
    iterations += 1000;
    now = process.hrtime.bigint();
  }
  const cpu = process.cpuUsage(cpuStart);
  return { iterations, seconds: Number(now - start) / 1e9, cpuSeconds: (cpu.user + cpu.system) / 1e6, sink };
}

export async function benchSipParse(options: { milliseconds?: number } = {}): Promise<SipParseBenchResult> {
  const data = typicalInvite();
  runFor(data, 300); // warm-up: let the JIT settle before measuring
  const { iterations, seconds, cpuSeconds } = runFor(data, options.milliseconds ?? 3000);
  const perSecond = Math.round(iterations / cpuSeconds);
  return {
    name: 'sip-parse',
    messageBytes: data.length,
    iterations,
    seconds: Math.round(seconds * 1000) / 1000,
    cpuSeconds: Math.round(cpuSeconds * 1000) / 1000,
    perSecond,
    wallPerSecond: Math.round(iterations / seconds),
    microsecondsPerMessage: Math.round((1e6 / perSecond) * 100) / 100,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchSipParse()));
}
