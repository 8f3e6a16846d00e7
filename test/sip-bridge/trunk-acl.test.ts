import { describe, it, expect } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { TrunkAcl } from '../../src/sip-bridge/trunk-acl.ts';

describe('trunk source allow-list', () => {
  it('matches CIDRs and default host addresses, and nothing else', async () => {
    const cfg = parseConfig(
      'trunks:\n  - { name: a, host: 127.0.0.2, allowedSources: ["127.0.1.0/24", "::1"] }\n  - { name: b, host: 127.0.0.3 }\n',
      't',
      {},
    );
    const acl = await TrunkAcl.create(cfg.trunks);
    expect(acl.trunkFor('127.0.1.77')?.name).toBe('a');
    expect(acl.trunkFor('::1')?.name).toBe('a');
    expect(acl.trunkFor('127.0.0.3')?.name).toBe('b');
    expect(acl.trunkFor('::ffff:127.0.0.3')?.name).toBe('b');
    expect(acl.trunkFor('127.0.0.2')).toBeUndefined();
    expect(acl.trunkFor('127.0.0.1')).toBeUndefined();
    expect(acl.trunkFor('not-an-ip')).toBeUndefined();
  });
});
