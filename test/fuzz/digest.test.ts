/**
 * Digest headers under fuzzing (targets/digest.ts): 100,000 mutated Authorization credentials (for live nonces)
 * and WWW-/Proxy-Authenticate challenges. parseAuthHeader throws only SipParseError; DigestServer.verify and
 * selectChallenge never throw; what DigestClient answers to an accepted challenge parses again.
 */
import { describe, it, expect } from 'vitest';
import { runTarget, share } from './run-target.ts';

describe('digest header fuzzing', () => {
  it('parses, verifies and answers mutated credentials and challenges with typed outcomes only', async () => {
    const { stats } = await runTarget('digest');
    expect(share(stats, 'parsed:')).toBeGreaterThan(0.2);
    expect(share(stats, 'SipParseError:')).toBeGreaterThan(0.2);
    for (const outcome of ['parsed:ok', 'parsed:bad-credentials', 'parsed:wrong-realm', 'parsed:replay', 'parsed:unsupported-algorithm']) {
      expect(stats.outcomes[outcome] ?? 0, outcome).toBeGreaterThan(0);
    }
  }, 600_000);
});
