import { describe, expect, it } from 'vitest';
import {
  defaultServerUrl,
  loadSettings,
  parseIceServers,
  saveSettings,
  SETTINGS_KEY,
  sipDomain,
  type StorageLike,
} from '../../public/softphone/settings.ts';
import { addToHistory, callOutcome, HISTORY_LIMIT, loadHistory, whenLabel, type CallRecord } from '../../public/softphone/history.ts';

/** localStorage's contract over a Map. */
function memoryStorage(): StorageLike & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return {
    map,
    getItem: (key) => map.get(key) ?? null,
    setItem: (key, value) => void map.set(key, String(value)),
    removeItem: (key) => void map.delete(key),
  };
}

const page = { protocol: 'http:', host: '127.0.0.1:8080', hostname: '127.0.0.1' };

describe('settings', () => {
  it('defaults to the page’s own /sip, ws:// or wss:// by the page’s protocol', () => {
    expect(defaultServerUrl(page)).toBe('ws://127.0.0.1:8080/sip');
    expect(defaultServerUrl({ protocol: 'https:', host: 'phone.example', hostname: 'phone.example' })).toBe('wss://phone.example/sip');
    expect(loadSettings(memoryStorage(), page)).toMatchObject({ server: 'ws://127.0.0.1:8080/sip', dtmfMode: 'rfc4733', domain: '' });
  });

  it('uses the page host as SIP domain unless one is set', () => {
    const settings = loadSettings(memoryStorage(), page);
    expect(sipDomain(settings, page)).toBe('127.0.0.1');
    expect(sipDomain({ ...settings, domain: ' example.test ' }, page)).toBe('example.test');
  });

  it('never stores the password unless "remember password" is ticked', () => {
    const storage = memoryStorage();
    const settings = { ...loadSettings(storage, page), user: 'alice', password: 'demo' };
    saveSettings(storage, settings);
    expect(storage.map.get(SETTINGS_KEY)).not.toContain('demo');
    expect(loadSettings(storage, page)).toMatchObject({ user: 'alice', password: '' });
    saveSettings(storage, { ...settings, rememberPassword: true });
    expect(loadSettings(storage, page)).toMatchObject({ user: 'alice', password: 'demo', rememberPassword: true });
  });

  it('survives a corrupt entry', () => {
    const storage = memoryStorage();
    storage.setItem(SETTINGS_KEY, '{not json');
    expect(loadSettings(storage, page).server).toBe('ws://127.0.0.1:8080/sip');
  });

  it('parses ICE servers as URLs or as JSON with TURN credentials', () => {
    expect(parseIceServers('')).toEqual({ ok: true, servers: [] });
    expect(parseIceServers('stun:a.example:3478, turn:b.example:3478?transport=udp')).toEqual({
      ok: true,
      servers: [{ urls: 'stun:a.example:3478' }, { urls: 'turn:b.example:3478?transport=udp' }],
    });
    expect(parseIceServers('[{"urls":["turn:t.example"],"username":"u","credential":"p"}]')).toEqual({
      ok: true,
      servers: [{ urls: ['turn:t.example'], username: 'u', credential: 'p' }],
    });
    expect(parseIceServers('http://x').ok).toBe(false);
    expect(parseIceServers('[{"url":"stun:x"}]').ok).toBe(false);
  });
});

describe('recent calls', () => {
  const record = (i: number): CallRecord => ({
    peer: `p${i}`,
    target: `p${i}`,
    direction: 'outgoing',
    outcome: 'answered',
    startedAt: i,
    durationSec: 1,
  });

  it('keeps the newest first, at most HISTORY_LIMIT', () => {
    const storage = memoryStorage();
    for (let i = 0; i < HISTORY_LIMIT + 5; i++) addToHistory(storage, record(i));
    const list = loadHistory(storage);
    expect(list).toHaveLength(HISTORY_LIMIT);
    expect(list[0]?.peer).toBe(`p${HISTORY_LIMIT + 4}`);
  });

  it('drops malformed entries instead of failing', () => {
    const storage = memoryStorage();
    storage.setItem('softphone.recent.v1', JSON.stringify([{ peer: 1 }, record(1)]));
    expect(loadHistory(storage)).toEqual([record(1)]);
  });

  it('lists unanswered incoming calls as missed or rejected, outgoing ones as failed or cancelled', () => {
    expect(callOutcome('incoming', true, false, false)).toBe('answered');
    expect(callOutcome('incoming', false, false, false)).toBe('missed');
    expect(callOutcome('incoming', false, true, false)).toBe('rejected');
    expect(callOutcome('outgoing', false, false, true)).toBe('failed');
    expect(callOutcome('outgoing', false, true, false)).toBe('cancelled');
  });

  it('labels times relative to now', () => {
    const now = new Date(2025, 0, 10, 12, 0, 0).getTime();
    expect(whenLabel(now - 10_000, now)).toBe('just now');
    expect(whenLabel(now - 5 * 60_000, now)).toBe('5 min ago');
    expect(whenLabel(new Date(2025, 0, 10, 9, 5).getTime(), now)).toBe('09:05');
    expect(whenLabel(new Date(2025, 0, 9, 14, 5).getTime(), now)).toBe('yesterday 14:05');
    expect(whenLabel(new Date(2024, 11, 1, 8, 0).getTime(), now)).toBe('2024-12-01 08:00');
  });
});
