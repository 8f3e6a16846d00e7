/**
 * The configuration loader under fuzzing (targets/config.ts): 5,000 mutated YAML files in CI — the YAML library
 * and the schema cost 1–2 ms per file, so 100,000 take minutes (`node scripts/fuzz.ts --target config --count
 * 100000`). Only ConfigError may come out, except the known loader bug below.
 */
import { describe, it, expect } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/config/config-error.ts';
import { runTarget, share } from './run-target.ts';

describe('configuration fuzzing', () => {
  it('mutated YAML ends in a frozen configuration or a ConfigError naming the key', async () => {
    const { stats, cpuSeconds, scale } = await runTarget('config');
    expect(share(stats, 'ok')).toBeGreaterThan(0.05);
    expect(share(stats, 'ConfigError:schema')).toBeGreaterThan(0.05);
    expect(share(stats, 'ConfigError:yaml')).toBeGreaterThan(0.05);
    expect(share(stats, 'KNOWN-BUG')).toBeLessThan(0.01);
    expect(cpuSeconds).toBeLessThan(40 * scale);
  }, 600_000);

  // KNOWN BUG, found by this fuzzer: src/config/load.ts calls yaml's doc.toJS() outside a try, and an alias without
  // its anchor (or a billion-laughs file) throws ReferenceError instead of a ConfigError. When load.ts is fixed,
  // this turns red: drop it and knownLoaderBug() in targets/config.ts.
  it.fails('a YAML alias without its anchor is a ConfigError (currently a ReferenceError)', () => {
    expect(() => parseConfig('http: *nowhere\n', 'alias.yaml', {})).toThrow(ConfigError);
  });
});
