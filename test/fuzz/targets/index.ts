/**
 * Every fuzz target by name, for scripts/fuzz.ts and the CI tests. `ciCount` is what test/fuzz/*.test.ts runs in
 * CI (100,000 unless the target is too slow for ~10 s on a 2-core machine; scripts/fuzz.ts runs any count).
 */
import type { FuzzStats } from '../harness.ts';
import { runSdpParseFuzz, runSdpTranslateFuzz } from './sdp.ts';
import { runMediaFuzz } from './media.ts';
import { runConfigFuzz } from './config.ts';
import { runDigestFuzz } from './digest.ts';
import { runTokenFuzz } from './token.ts';
import { runSipFuzz } from '../sip-fuzz-run.ts';

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
    ciCount: 25_000,
    ciSeed: 0x5d9a2,
    run: runSdpTranslateFuzz,
  },
  media: { description: 'RFC 7983 demux, STUN parse/integrity/responses, checkRtp, checkRtcpCompound, DTLS record scan', ciCount: 100_000, ciSeed: 0x3ed1a, run: runMediaFuzz },
  config: { description: 'parseConfig on mutated YAML (demo and full configurations)', ciCount: 5_000, ciSeed: 0xc0f16, run: runConfigFuzz },
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
