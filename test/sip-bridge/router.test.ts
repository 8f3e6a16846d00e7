import { describe, it, expect } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { Router } from '../../src/sip-bridge/router.ts';

const config = parseConfig(
  `
users:
  - { name: alice, password: x, dialPatterns: ['@users', '@services', '\\+?1[2-9][0-9]{9}'] }
  - { name: bob, password: x }
  - { name: kiosk, password: x, dialPatterns: ['@services'] }
trunks:
  - { name: carrier, host: 127.0.0.1 }
  - { name: other, host: 127.0.0.2 }
routes:
  outbound:
    - { match: '\\+?1[0-9]{10}', trunk: carrier, strip: 0, prefix: '' }
    - { match: '00[0-9]+', trunk: other, strip: 2, prefix: '+' }
  inbound:
    - { match: '\\+?15551230000', trunk: carrier, users: [alice, bob] }
    - { match: '100', users: [bob] }
`,
  'router-test',
  {},
);

describe('dial plan', () => {
  const router = new Router(config);

  it('routes a user to another user and to the built-in services', () => {
    expect(router.fromUser('bob', 'alice')).toEqual({ kind: 'users', users: ['alice'] });
    expect(router.fromUser('bob', 'echo')).toEqual({ kind: 'service', service: 'echo' });
    expect(router.fromUser('alice', 'tone')).toEqual({ kind: 'service', service: 'tone' });
  });

  it('routes an allowed number to its trunk, with separators removed', () => {
    expect(router.fromUser('alice', '+1 (555) 234-5678')).toMatchObject({ kind: 'trunk', trunk: { name: 'carrier' }, number: '+15552345678' });
  });

  it('refuses a number the user may not dial, even when a route exists (toll fraud)', () => {
    expect(router.fromUser('bob', '+15552345678')).toEqual({ kind: 'reject', status: 403, reason: 'Destination not allowed' });
    expect(router.fromUser('alice', '0044123456')).toEqual({ kind: 'reject', status: 403, reason: 'Destination not allowed' });
  });

  it('refuses a user that may only reach services from calling users', () => {
    expect(router.fromUser('kiosk', 'alice')).toMatchObject({ kind: 'reject', status: 403 });
    expect(router.fromUser('kiosk', 'echo')).toEqual({ kind: 'service', service: 'echo' });
  });

  it('answers 404 for a destination with no route and 403 for an unknown caller', () => {
    expect(router.fromUser('alice', 'nobody')).toMatchObject({ kind: 'reject', status: 404 });
    expect(router.fromUser('mallory', 'alice')).toMatchObject({ kind: 'reject', status: 403 });
  });

  it('routes inbound DIDs per trunk, falling back to the To user', () => {
    expect(router.fromTrunk('carrier', '+15551230000', undefined)).toEqual({ kind: 'users', users: ['alice', 'bob'] });
    expect(router.fromTrunk('other', '+15551230000', undefined)).toMatchObject({ kind: 'reject', status: 404 });
    expect(router.fromTrunk('other', 'unknown', '100')).toEqual({ kind: 'users', users: ['bob'] });
  });
});
