/**
 * rtpengine's `rtpp-flags` key: the raw flags string of `rtpengine_offer("...")` passed through for the daemon
 * to parse (Kamailio does this when a second, via-branch argument is given; see docs/ng_control_protocol.md,
 * "parsing of option flags"). The grammar is space separated `key` or `key=value` tokens, where a value may be
 * a bracketed list (`codec=[strip=[PCMA PCMU] transcode=[opus]]`): a bracket group whose first element has an
 * `=` is a dictionary, otherwise a list.
 *
 * `expandRtppFlags` turns the string into ordinary ng keys, as rtpengine's parse_rtpp_flags() does: bare
 * words join the `flags` list (where prefixes such as `codec-strip-PCMA`, `replace-origin`, `SDES-off`,
 * `rtcp-mux-demux` are understood), transport words (`RTP/AVP`, `UDP/TLS/RTP/SAVPF`, `RTP`, `SRTP`, `AVPF`,
 * `DTLS`...) become `transport-protocol`, `internal`/`external`/`direction=` become `direction`, and every
 * other `key=value` becomes that key. Pure; malformed input is an NgError.
 */
import type { BencodeDict, BencodeValue } from './bencode.ts';
import { NgError } from './errors.ts';
import { normalizeName } from './ng-values.ts';

/** Longest rtpp-flags string accepted (Kamailio's are a few hundred bytes). */
const MAX_FLAGS_LENGTH = 16 * 1024;
const MAX_BRACKET_DEPTH = 8;

type FlagValue = string | FlagValue[] | { [key: string]: FlagValue };
interface Token {
  key: string;
  value: FlagValue | undefined;
}

// Kamailio's and rtpengine's transports[] table, indexed by the low bits of the transport mask.
const TRANSPORTS: Record<number, string> = {
  0: 'RTP/AVP',
  1: 'RTP/SAVP',
  2: 'RTP/AVPF',
  3: 'RTP/SAVPF',
  4: 'UDP/TLS/RTP/SAVP',
  6: 'UDP/TLS/RTP/SAVPF',
};

/** Returns a copy of `dict` with its rtpp-flags string merged in (or `dict` itself when there is none). */
export function expandRtppFlags(dict: BencodeDict): BencodeDict {
  const flagsKey = Object.keys(dict).find((k) => normalizeName(k) === 'rtpp flags');
  if (flagsKey === undefined) return dict;
  const text = dict[flagsKey];
  if (typeof text !== 'string') throw new NgError('NG_INVALID', `${JSON.stringify(flagsKey)} must be a string`);
  const out = Object.assign(Object.create(null) as BencodeDict, dict);
  delete out[flagsKey];
  const present = new Map(Object.keys(out).map((k) => [normalizeName(k), k] as const));
  const set = (key: string, value: BencodeValue): void => {
    // The operator's explicit flags override what the proxy filled in; lists accumulate.
    const existing = present.get(normalizeName(key));
    if (existing !== undefined && Array.isArray(out[existing]) && Array.isArray(value)) {
      out[existing] = [...(out[existing] as BencodeValue[]), ...value];
      return;
    }
    if (existing !== undefined) delete out[existing];
    out[key] = value;
    present.set(normalizeName(key), key);
  };

  let transport = 0;
  const flags: string[] = [];
  const direction: string[] = [];
  for (const { key, value } of tokenize(text)) {
    if (value === undefined) {
      const bit = transportBits(key, transport);
      if (bit !== undefined) transport = bit;
      else if (key === 'internal' || key === 'external') direction.push(key);
      else flags.push(key);
      continue;
    }
    if (key === 'direction' && typeof value === 'string') direction.push(value);
    else set(key, toBencode(value));
  }
  if (flags.length > 0) set('flags', flags);
  if (direction.length > 0) set('direction', direction);
  const protocol = transport !== 0 ? TRANSPORTS[transport & 0x7] : undefined;
  if (protocol !== undefined) set('transport-protocol', protocol);
  return out;
}

/** Applies one transport word to the mask (0x100 = set); undefined when `word` is no transport word. */
function transportBits(word: string, t: number): number | undefined {
  switch (word) {
    case 'RTP':
      return (t | 0x100) & ~0x001;
    case 'AVP':
      return (t | 0x100) & ~0x002;
    case 'SRTP':
      return t | 0x101;
    case 'AVPF':
      return t | 0x102;
    case 'DTLS':
      return t | 0x104;
    case 'RTP/AVP':
      return 0x100;
    case 'RTP/SAVP':
      return 0x101;
    case 'RTP/AVPF':
      return 0x102;
    case 'RTP/SAVPF':
      return 0x103;
    case 'UDP/TLS/RTP/SAVP':
      return 0x104;
    case 'UDP/TLS/RTP/SAVPF':
      return 0x106;
    default:
      return undefined;
  }
}

function toBencode(value: FlagValue): BencodeValue {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(toBencode);
  const dict = Object.create(null) as BencodeDict;
  for (const [k, v] of Object.entries(value)) dict[k] = toBencode(v);
  return dict;
}

// ------------------------------------------------------------------------------------------- tokenizer

export function tokenize(text: string): Token[] {
  if (text.length > MAX_FLAGS_LENGTH) throw new NgError('NG_INVALID', 'rtpp-flags string too long');
  const p = { s: text, i: 0 };
  const tokens = readTokens(p, 0);
  if (p.i < text.length) throw new NgError('NG_INVALID', `rtpp-flags: unbalanced ']' at ${p.i}`);
  return tokens;
}

/** Tokens up to the end of the string, or up to (and including) the ']' closing this level. */
function readTokens(p: { s: string; i: number }, depth: number): Token[] {
  const tokens: Token[] = [];
  for (;;) {
    while (p.s[p.i] === ' ') p.i++;
    if (p.i >= p.s.length) {
      if (depth > 0) throw new NgError('NG_INVALID', "rtpp-flags: missing ']'");
      return tokens;
    }
    if (p.s[p.i] === ']') {
      if (depth === 0) return tokens;
      p.i++;
      return tokens;
    }
    if (p.s[p.i] === '[') {
      // A bracket group where a word was expected: a nested list (`[[a b] c]`) — keep it as a value-less token.
      if (depth + 1 > MAX_BRACKET_DEPTH) throw new NgError('NG_INVALID', 'rtpp-flags nested too deeply');
      p.i++;
      tokens.push({ key: '', value: group(readTokens(p, depth + 1), depth + 1) });
      continue;
    }
    const key = readWord(p, true);
    if (p.s[p.i] !== '=') {
      tokens.push({ key, value: undefined });
      continue;
    }
    p.i++;
    if (p.s[p.i] === '[') {
      if (depth + 1 > MAX_BRACKET_DEPTH) throw new NgError('NG_INVALID', 'rtpp-flags nested too deeply');
      p.i++;
      tokens.push({ key, value: group(readTokens(p, depth + 1), depth + 1) });
    } else {
      tokens.push({ key, value: readWord(p, false) });
    }
  }
}

function readWord(p: { s: string; i: number }, stopAtEquals: boolean): string {
  const start = p.i;
  while (p.i < p.s.length) {
    const c = p.s[p.i];
    if (c === ' ' || c === ']' || (stopAtEquals && c === '=')) break;
    p.i++;
  }
  return p.s.slice(start, p.i);
}

/** rtpengine's rule: a group whose first element is `key=value` is a dictionary, otherwise a list. */
function group(tokens: Token[], depth: number): FlagValue {
  if (depth > MAX_BRACKET_DEPTH) throw new NgError('NG_INVALID', 'rtpp-flags nested too deeply');
  const first = tokens[0];
  if (first !== undefined && first.value !== undefined && first.key !== '') {
    const dict: { [key: string]: FlagValue } = Object.create(null) as { [key: string]: FlagValue };
    for (const t of tokens) {
      if (t.value === undefined || t.key === '') {
        throw new NgError('NG_INVALID', `rtpp-flags: entry '${t.key}' in a dictionary has no '='`);
      }
      dict[t.key] = t.value;
    }
    return dict;
  }
  return tokens.map((t) => {
    if (t.key === '' && t.value !== undefined) return t.value;
    if (t.value !== undefined) throw new NgError('NG_INVALID', `rtpp-flags: '${t.key}=' inside a list`);
    return t.key;
  });
}
