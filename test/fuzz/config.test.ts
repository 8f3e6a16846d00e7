/**
 * The configuration loader under fuzzing (targets/config.ts): 100,000 inputs in CI — 40 % mutated YAML files
 * (whole and per-section) through parseConfig, 60 % mutated parsed trees through validateConfig, the half of
 * parseConfig after the YAML library (which costs ~1 ms per file and would make 100,000 files take minutes).
 * Only ConfigError may come out; whatever is accepted is frozen.
 */
import { describe, it, expect } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/config/config-error.ts';
import { runTarget, share } from './run-target.ts';

describe('configuration fuzzing', () => {
  it('mutated YAML ends in a frozen configuration or a ConfigError naming the key', async () => {
    const { stats } = await runTarget('config');
    expect(share(stats, 'ok')).toBeGreaterThan(0.05);
    expect(share(stats, 'ConfigError:schema')).toBeGreaterThan(0.05);
    expect(share(stats, 'ConfigError:yaml')).toBeGreaterThan(0.05);
    expect(share(stats, 'ok:tree')).toBeGreaterThan(0.05);
  }, 600_000);

  // Found by this fuzzer: an alias without its anchor used to escape as a ReferenceError.
  it('a YAML alias without its anchor, or an alias bomb, is a ConfigError', () => {
    expect(() => parseConfig('http: *nowhere\n', 'alias.yaml', {})).toThrow(ConfigError);
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefgh'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefg'[i]}`).join(', ')}]`)].join('\n');
    expect(() => parseConfig(`${bomb}\n`, 'bomb.yaml', {})).toThrow(ConfigError);
  });
});
