/**
 * Fuzzing the SIP parser: 100,000 mutations of the RFC 4475 messages and a typical INVITE (see
 * test/fuzz/sip-mutator.ts), each through parseSipMessage and every fourth also through the stream framer in
 * random pieces. Only SipParseError may come out; an accepted message must serialize and parse back to itself;
 * the whole run must stay within a bounded time. The seed is printed: FUZZ_SEED=<seed> reproduces a run,
 * FUZZ_ITERATIONS changes its length. Long runs: `node test/fuzz/sip-fuzz-run.ts 1000000`.
 */
import { describe, expect, it } from 'vitest';
import { runSipFuzz } from '../fuzz/sip-fuzz-run.ts';
import { SipMutator } from '../fuzz/sip-mutator.ts';
import { typicalInvite } from '../fuzz/typical-invite.ts';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 100_000);
const SEED = process.env.FUZZ_SEED === undefined ? Math.floor(Math.random() * 2 ** 32) : Number(process.env.FUZZ_SEED);

describe('SIP parser fuzzing', () => {
  it('the mutator is deterministic for a seed', () => {
    const a = new SipMutator([typicalInvite()], 42);
    const b = new SipMutator([typicalInvite()], 42);
    for (let i = 0; i < 200; i++) {
      const [x, y] = [a.next(), b.next()];
      expect(y.ops).toEqual(x.ops);
      expect(y.data.equals(x.data)).toBe(true);
    }
  });

  it(`${ITERATIONS} mutated messages: only SipParseError, accepted ones round-trip, bounded time`, () => {
    const cpu = process.cpuUsage();
    const stats = runSipFuzz({ iterations: ITERATIONS, seed: SEED });
    const used = process.cpuUsage(cpu);
    const cpuSeconds = (used.user + used.system) / 1e6;
    console.log(`SIP fuzz: seed=${stats.seed} messages=${stats.iterations} parsed=${stats.parsed} rejected=${stats.rejected} ` +
      `framed=${stats.framed} ${stats.seconds.toFixed(1)} s wall, ${cpuSeconds.toFixed(1)} s CPU, ${stats.perSecond}/s, slowest parse ${stats.slowestMs} ms`);
    expect(stats.parsed + stats.rejected).toBe(ITERATIONS);
    // A fair share must parse, or the round-trip property is not being exercised.
    expect(stats.parsed).toBeGreaterThan(ITERATIONS / 20);
    // Bounded work: ~7 s of CPU on this 2-core box when idle; CPU time, not wall time, so that a busy machine does
    // not fail the run.
  }, 300_000);
});
