/**
 * Sign-in and audio settings, remembered in localStorage. The password is stored only when the user asked
 * for it ("remember password"). DOM-free apart from the Storage-shaped object passed in.
 */

import type { DtmfMode } from '../common/dtmf.ts';

export interface Settings {
  readonly server: string;
  readonly user: string;
  readonly password: string;
  readonly displayName: string;
  /** SIP domain; empty means "the host the page was loaded from". */
  readonly domain: string;
  readonly rememberPassword: boolean;
  readonly dtmfMode: DtmfMode;
  /** Space/comma separated stun:/turn: URLs, or a JSON RTCIceServer[]; empty for the ICE-lite gateway. */
  readonly iceServers: string;
  readonly microphoneId: string;
  readonly speakerId: string;
}

export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface PageLocation {
  readonly protocol: string;
  readonly host: string;
  readonly hostname: string;
}

export const SETTINGS_KEY = 'softphone.settings.v1';

/** The gateway's SIP WebSocket on the page's own origin: ws(s)://<host>/sip. */
export function defaultServerUrl(location: PageLocation): string {
  if (!location.host) return 'ws://127.0.0.1:8080/sip';
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/sip`;
}

export function defaultSettings(location: PageLocation): Settings {
  return {
    server: defaultServerUrl(location),
    user: '',
    password: '',
    displayName: '',
    domain: '',
    rememberPassword: false,
    dtmfMode: 'rfc4733',
    iceServers: '',
    microphoneId: '',
    speakerId: '',
  };
}

/** The domain to register in: the configured one, else the page's host name. */
export function sipDomain(settings: Settings, location: PageLocation): string {
  return settings.domain.trim() || location.hostname || '127.0.0.1';
}

function str(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}

export function loadSettings(storage: StorageLike, location: PageLocation): Settings {
  const defaults = defaultSettings(location);
  let raw: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(storage.getItem(SETTINGS_KEY) ?? '{}');
    if (parsed && typeof parsed === 'object') raw = parsed as Record<string, unknown>;
  } catch {
    // A corrupt entry falls back to defaults; the next save overwrites it.
  }
  const rememberPassword = raw['rememberPassword'] === true;
  return {
    server: str(raw['server'], defaults.server) || defaults.server,
    user: str(raw['user'], ''),
    password: rememberPassword ? str(raw['password'], '') : '',
    displayName: str(raw['displayName'], ''),
    domain: str(raw['domain'], ''),
    rememberPassword,
    dtmfMode: raw['dtmfMode'] === 'info' ? 'info' : 'rfc4733',
    iceServers: str(raw['iceServers'], ''),
    microphoneId: str(raw['microphoneId'], ''),
    speakerId: str(raw['speakerId'], ''),
  };
}

export function saveSettings(storage: StorageLike, settings: Settings): void {
  const { password, ...rest } = settings;
  const stored = settings.rememberPassword ? { ...rest, password } : rest;
  try {
    storage.setItem(SETTINGS_KEY, JSON.stringify(stored));
  } catch {
    // Storage full or disabled (private mode): settings just are not remembered.
  }
}

export interface IceServerLike {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export type ParsedIceServers = { readonly ok: true; readonly servers: IceServerLike[] } | { readonly ok: false; readonly reason: string };

/**
 * `stun:a.example:3478 turn:b.example:3478?transport=udp` or a JSON array of RTCIceServer dictionaries
 * (needed for TURN credentials).
 */
export function parseIceServers(text: string): ParsedIceServers {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: true, servers: [] };
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      return { ok: false, reason: 'ICE servers: the JSON does not parse.' };
    }
    if (!Array.isArray(parsed)) return { ok: false, reason: 'ICE servers: expected a JSON array.' };
    const servers: IceServerLike[] = [];
    for (const entry of parsed as unknown[]) {
      const e = entry as Record<string, unknown> | null;
      const urls = e?.['urls'];
      const validUrls = typeof urls === 'string' || (Array.isArray(urls) && urls.every((u) => typeof u === 'string'));
      if (!e || !validUrls) return { ok: false, reason: 'ICE servers: every entry needs "urls".' };
      const server: IceServerLike = { urls: urls as string | string[] };
      if (typeof e['username'] === 'string') server.username = e['username'];
      if (typeof e['credential'] === 'string') server.credential = e['credential'];
      servers.push(server);
    }
    return { ok: true, servers };
  }
  const urls = trimmed.split(/[\s,]+/).filter(Boolean);
  const bad = urls.find((u) => !/^(stuns?|turns?):/i.test(u));
  if (bad) return { ok: false, reason: `ICE servers: "${bad}" is not a stun: or turn: URL.` };
  return { ok: true, servers: urls.map((u) => ({ urls: u })) };
}
