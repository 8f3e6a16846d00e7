/**
 * Embedded-page tokens under fuzzing (targets/token.ts): 100,000 mutated and re-signed JWTs through verifyToken,
 * bearerToken and tokenFromUrl. Only TokenError may come out; whatever verifies is a well-formed identity within
 * the lifetime limit.
 */
import { describe, it, expect } from 'vitest';
import { runTarget } from './run-target.ts';

describe('token fuzzing', () => {
  it('verifies mutated and re-signed tokens with TokenError as the only failure', async () => {
    const { stats } = await runTarget('token');
    expect(stats.outcomes.TOKEN_INVALID ?? 0).toBeGreaterThan(stats.iterations / 2);
    expect(stats.outcomes['ok:resigned'] ?? 0).toBeGreaterThan(stats.iterations / 100);
    expect(stats.outcomes.TOKEN_EXPIRED ?? 0).toBeGreaterThan(0);
  }, 600_000);
});
