import { describe, expect, it } from 'vitest';
import { dialTarget, formatDuration, peerLabel } from '../../public/common/target.ts';

describe('dialTarget', () => {
  it('keeps user names and built-in services as the user part', () => {
    expect(dialTarget('echo')).toEqual({ ok: true, target: 'echo', kind: 'user' });
    expect(dialTarget(' bob ')).toEqual({ ok: true, target: 'bob', kind: 'user' });
  });

  it('strips telephone visual separators from numbers (RFC 3966 §5.1.1)', () => {
    expect(dialTarget('+1 (555) 010-9999')).toEqual({ ok: true, target: '+15550109999', kind: 'number' });
    expect(dialTarget('030 1234.5678')).toEqual({ ok: true, target: '03012345678', kind: 'number' });
  });

  it('keeps * and # in feature codes', () => {
    expect(dialTarget('*97')).toEqual({ ok: true, target: '*97', kind: 'number' });
    expect(dialTarget('123#')).toEqual({ ok: true, target: '123#', kind: 'number' });
  });

  it('passes SIP URIs through and turns user@host into one', () => {
    expect(dialTarget('sip:bob@example.org')).toEqual({ ok: true, target: 'sip:bob@example.org', kind: 'uri' });
    expect(dialTarget('bob@example.org')).toEqual({ ok: true, target: 'sip:bob@example.org', kind: 'uri' });
  });

  it('refuses empty input and characters no SIP user part allows', () => {
    expect(dialTarget('   ').ok).toBe(false);
    expect(dialTarget('bob smith').ok).toBe(false);
    expect(dialTarget('a<b').ok).toBe(false);
  });
});

describe('peerLabel and formatDuration', () => {
  it('prefers the display name, then the user, then the host', () => {
    expect(peerLabel(' Alice ', 'alice')).toBe('Alice');
    expect(peerLabel('', 'alice')).toBe('alice');
    expect(peerLabel(undefined, undefined, 'example.org')).toBe('example.org');
  });

  it('shows mm:ss, and h:mm:ss past an hour', () => {
    expect(formatDuration(0)).toBe('00:00');
    expect(formatDuration(65.9)).toBe('01:05');
    expect(formatDuration(3600 + 62)).toBe('1:01:02');
  });
});
