/**
 * Every fuzz target by name, for scripts/fuzz.ts and the CI tests. `ciCount` is what test/fuzz/*.test.ts runs in
 * CI: at least CI_MIN_COUNT (100,000) for every target, each within ~60 s on a 2-core machine; scripts/fuzz.ts
 * runs any count (`npm run fuzz` defaults to 1,000,000).
 */
import type { FuzzStats } from '../harness.ts';
import { runSdpParseFuzz, runSdpTranslateFuzz } from './sdp.ts';
import { runMediaFuzz } from './media.ts';
import { runConfigFuzz } from './config.ts';
import { runDigestFuzz } from './digest.ts';
import { runTokenFuzz } from './token.ts';
import { runSipFuzz } from '../sip-fuzz-run.ts';

/** What the issue asks of CI for every target: test/fuzz/run-target.ts asserts it was reached. */
export const CI_MIN_COUNT = 100_000;

export interface FuzzTargetEntry {
  readonly description: string;
  readonly ciCount: number;
  /** The seed CI uses (FUZZ_SEED overrides). */
  readonly ciSeed: number;
  run(options: { iterations: number; seed: number }): FuzzStats | Promise<FuzzStats>;
}

export const FUZZ_TARGETS: Readonly<Record<string, FuzzTargetEntry>> = {
  sdp: { description: 'parseSdp on mutated real offers/answers', ciCount: 100_000, ciSeed: 0x5d9a1, run: runSdpParseFuzz },
  'sdp-translate': {
    description: 'translateOffer/translateAnswer (WebRTC ↔ plain, new legs and re-offers) on mutated SDP',
    ciCount: 100_000,
    ciSeed: 0x5d9a2,
    run: runSdpTranslateFuzz,
  },
  media: { description: 'RFC 7983 demux, STUN parse/integrity/responses, checkRtp, checkRtcpCompound, DTLS record scan', ciCount: 100_000, ciSeed: 0x3ed1a, run: runMediaFuzz },
  config: {
    description: 'parseConfig on mutated YAML (demo, full and per-section files) and validateConfig on mutated parsed trees',
    ciCount: 100_000,
    ciSeed: 0xc0f16,
    run: runConfigFuzz,
  },
  digest: { description: 'digest Authorization/WWW-Authenticate parsing, server verify, client answers', ciCount: 100_000, ciSeed: 0xd16e5, run: runDigestFuzz },
  token: { description: 'verifyToken/bearerToken/tokenFromUrl on mutated and re-signed JWTs', ciCount: 100_000, ciSeed: 0x70ce4, run: runTokenFuzz },
  sip: {
    description: 'the SIP parser, serializer round trip and stream framer (test/fuzz/sip-fuzz-run.ts; CI: test/signaling/fuzz-parser.test.ts)',
    ciCount: 100_000,
    ciSeed: 0x51b,
    run: ({ iterations, seed }) => {
      const s = runSipFuzz({ iterations, seed });
      return {
        target: 'sip',
        seed: s.seed,
        iterations: s.iterations,
        outcomes: { parsed: s.parsed, rejected: s.rejected, framed: s.framed },
        seconds: s.seconds,
        perSecond: s.perSecond,
        slowestMs: s.slowestMs,
      };
    },
  },
};
