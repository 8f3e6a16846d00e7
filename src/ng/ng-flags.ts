/**
 * The media options of ng `offer`/`answer` (docs/ng_control_protocol.md, "offer Message") mapped onto the
 * media API's OfferFlags/AnswerFlags. Three outcomes per key, flag or value:
 *   - honoured: it changes what we ask the media plane for (transport-protocol, ICE, codec strip, trust
 *     address, strict source, label, ...);
 *   - accepted silently: our behaviour already is what it asks for (replace origin: we always own o=;
 *     generate mid: WebRTC offers always carry a mid; symmetric: latching is the default; DTLS=passive: an
 *     actpass offer from a browser is answered passive; SDES=off: we never offer SDES);
 *   - warned: the key or flag is unknown or cannot be honoured; it lands in the reply's `warning` string.
 * A value that is contradictory or that we must not pretend to honour (SDES-SRTP, trickle SDP fragments) is
 * an NgError → `result: error`.
 */
import type { CodecFlags } from '../rtp-bridge/media-api.ts';
import type { LegKind } from '../rtp-bridge/sdp/index.ts';
import { NgError } from './errors.ts';
import type { NgDictReader } from './ng-values.ts';
import { normalizeName } from './ng-values.ts';

export interface NgParseOptions {
  /** Logical interface names this node serves (`--interface name/addr`); others in `direction` are warned. */
  interfaces?: readonly string[];
  /** Address families this node has media addresses in; an `address family` outside them is warned. */
  addressFamilies?: readonly ('IP4' | 'IP6')[];
}

/** The flags list, split into plain flags (normalised) and prefixed ones routed to their key's values. */
export interface FlagSet {
  /** Normalised plain flags not yet consumed. Consumers delete what they handle. */
  plain: Map<string, string>;
  /** Values from prefixed flags, by normalised key: `codec strip`, `replace`, `SDES`, `rtcp mux`, ... */
  prefixed: Map<string, string[]>;
}

// Prefixes rtpengine understands inside `flags` (call_flags.c, call_ng_flags_flags), normalised.
const FLAG_PREFIXES = [
  'codec strip', 'codec mask', 'codec offer', 'codec except', 'codec transcode', 'transcode', 'codec set',
  'codec accept', 'codec consume', 'codec ignore', 'replace', 'sdes', 'osrtp', 'rtcp mux', 'bundle', 't38',
  't.38', 'endpoint learning', 'from tags', 'sdp attr add', 'sdp attr remove', 'sdp attr substitute',
].sort((a, b) => b.length - a.length);

export function readFlags(reader: NgDictReader): FlagSet {
  const set: FlagSet = { plain: new Map(), prefixed: new Map() };
  for (const flag of reader.stringList('flags') ?? []) {
    const name = normalizeName(flag);
    const prefix = FLAG_PREFIXES.find((p) => name.length > p.length + 1 && name.startsWith(`${p} `));
    if (prefix === undefined) {
      set.plain.set(name, flag);
      continue;
    }
    const key = prefix === 'transcode' ? 'codec transcode' : prefix === 't.38' ? 't38' : prefix;
    // The value keeps its original spelling: codec names are case sensitive ("opus", "PCMU").
    const values = set.prefixed.get(key) ?? [];
    values.push(flag.slice(prefix.length + 1));
    set.prefixed.set(key, values);
  }
  return set;
}

export interface MediaOptions {
  /** What the receiving side of an offer speaks, or for an answer what the offerer must be; undefined: no hint. */
  kind: LegKind | undefined;
  codecs: CodecFlags | undefined;
  strictSource: boolean | undefined;
  trustAddress: boolean | undefined;
  label: string | undefined;
}

const SECURE = new Set(['RTP/SAVP', 'RTP/SAVPF', 'UDP/TLS/RTP/SAVP', 'UDP/TLS/RTP/SAVPF']);
const PLAIN = new Set(['RTP/AVP', 'RTP/AVPF']);
const OFF = new Set(['off', 'no', 'disable', 'disabled']);
// replace-* values that describe what we always do: we write o= (session id, version, username, address),
// s=- and the c= lines of every SDP we emit.
const REPLACE_HONOURED = new Set([
  'origin', 'origin full', 'session connection', 'sdp version', 'username', 'session name',
]);

/** Reads the media keys of an offer or answer; pushes warnings; consumes what it understands. */
export function readMediaOptions(
  reader: NgDictReader,
  flags: FlagSet,
  op: 'offer' | 'answer',
  sdp: string,
  options: NgParseOptions,
  warnings: string[],
): MediaOptions {
  const take = (name: string): boolean => flags.plain.delete(name);
  const list = (key: string): string[] => [...(reader.stringList(key) ?? []), ...takePrefixed(flags, key)];

  if (take('fragment')) {
    throw new NgError('NG_UNSUPPORTED', 'Trickle ICE SDP fragments are not supported');
  }

  // --- transport: transport-protocol, ICE, DTLS, SDES, the WebRTC shortcut flag
  const transport = reader.string('transport protocol');
  const ice = list('ice').map(normalizeName);
  const dtls = reader.string('dtls');
  const dtlsOff = dtls !== undefined && OFF.has(dtls.toLowerCase());
  const webrtcFlag = take('webrtc');
  let kind: LegKind | undefined;
  if (transport !== undefined && transport !== 'accept') {
    if (SECURE.has(transport)) {
      // RTP/SAVP(F) without DTLS means SDES keys in the SDP; UDP/TLS without DTLS is a contradiction (warned below).
      if (dtlsOff && transport.startsWith('RTP/')) {
        throw new NgError('NG_UNSUPPORTED', `${transport} with DTLS=${dtls}: SDES-SRTP is not supported`);
      }
      if (transport === 'RTP/SAVP' || transport === 'UDP/TLS/RTP/SAVP') {
        warnings.push(`transport-protocol ${transport}: WebRTC legs use UDP/TLS/RTP/SAVPF`);
      }
      kind = 'webrtc';
    } else if (PLAIN.has(transport)) {
      if (transport === 'RTP/AVPF') warnings.push('transport-protocol RTP/AVPF: plain legs use RTP/AVP');
      kind = 'plain';
    } else {
      throw new NgError('NG_UNSUPPORTED', `Unsupported transport protocol ${JSON.stringify(transport)}`);
    }
  } else if (transport === 'accept' && op === 'offer') {
    warnings.push("transport-protocol 'accept' only applies to answers");
  }
  if (webrtcFlag) {
    if (kind === 'plain') warnings.push(`flag 'WebRTC' conflicts with transport-protocol ${transport}, ignored`);
    else kind = 'webrtc';
  }
  for (const value of ice) {
    if (value === 'force') {
      if (kind === 'plain') warnings.push('ICE=force ignored: plain RTP legs do not use ICE');
      else kind ??= 'webrtc';
    } else if (value === 'remove') {
      if (kind === 'webrtc') warnings.push('ICE=remove ignored: WebRTC legs need ICE');
      else kind ??= 'plain';
    } else if (value !== 'default' && !value.startsWith('lite ')) {
      warnings.push(`ICE=${value} not supported, ignored`);
    }
  }
  if (dtls !== undefined) {
    const value = dtls.toLowerCase();
    if (dtlsOff) {
      if (kind === 'webrtc') warnings.push(`DTLS=${dtls} ignored: WebRTC legs need DTLS-SRTP`);
      else kind ??= 'plain';
    } else if (value === 'active') {
      warnings.push('DTLS=active not supported: the gateway takes the DTLS role the peer leaves it');
    } else if (value !== 'passive') {
      warnings.push(`DTLS=${dtls} not supported, ignored`);
    }
  }
  for (const value of list('sdes')) {
    if (!OFF.has(value.toLowerCase())) warnings.push(`SDES ${value} not supported (no SDES-SRTP), ignored`);
  }
  if (kind === undefined && op === 'offer') kind = sdpKind(sdp, warnings);

  // --- rtcp-mux: WebRTC legs always mux (RFC 8834 §5.1.3); plain legs follow the peer.
  for (const value of list('rtcp mux').map(normalizeName)) {
    const fine =
      value === 'accept' ||
      (kind === 'webrtc' && (value === 'offer' || value === 'require')) ||
      (kind !== 'webrtc' && value === 'demux') ||
      (op === 'answer' && value !== 'reject');
    if (!fine) warnings.push(`rtcp-mux ${value} not supported${kind ? ` towards a ${kind} leg` : ''}, ignored`);
  }

  // --- replace
  for (const value of list('replace').map(normalizeName)) {
    if (!REPLACE_HONOURED.has(value)) warnings.push(`replace ${value} not supported, ignored`);
  }

  // --- codecs
  const codecs = readCodecs(reader, flags, warnings);

  // --- addressing and latching
  let trustAddress: boolean | undefined;
  let strictSource: boolean | undefined;
  if (take('trust address') || take('asymmetric')) trustAddress = true;
  if (take('strict source')) strictSource = true;
  if (take('media handover')) {
    if (strictSource) warnings.push("flag 'media handover' conflicts with 'strict source', ignored");
    else strictSource = false;
  }
  for (const silent of ['symmetric', 'generate mid', 'port latching', 'inject dtmf', 'debug', 'debugging']) take(silent);

  // --- interfaces and address family
  const interfaces = [
    ...(reader.stringList('direction') ?? []),
    ...(reader.stringList('from interface') ?? []),
    ...(reader.stringList('to interface') ?? []),
    ...(reader.stringList('interface') ?? []),
  ];
  if (options.interfaces !== undefined) {
    for (const name of interfaces) {
      if (!options.interfaces.includes(name)) warnings.push(`unknown interface ${JSON.stringify(name)}, ignored`);
    }
  }
  const family = reader.string('address family');
  if (family !== undefined && options.addressFamilies !== undefined && !options.addressFamilies.includes(family as 'IP4')) {
    warnings.push(`address family ${family} not available, ignored`);
  }

  // --- keys whose usual values match our behaviour
  valueWarn(reader, 'ice lite', (v) => v !== 'off', 'the gateway is always ICE-lite', warnings);
  valueWarn(reader, 'dtls fingerprint', (v) => v === 'sha-256', 'fingerprints are SHA-256', warnings);
  valueWarn(reader, 'record call', (v) => v === 'no' || v === 'off', 'recording is not supported', warnings);
  valueWarn(reader, 'generate rtcp', (v) => v === 'off', 'RTCP is relayed, not generated', warnings);
  valueWarn(reader, 'audio player', (v) => v === 'off' || v === 'default', 'no audio player', warnings);
  valueWarn(reader, 'drop traffic', (v) => v === 'stop', "use 'block media'", warnings);
  for (const value of list('bundle').map(normalizeName)) {
    if (value !== 'accept' && value !== 'offer' && value !== 'require') warnings.push(`bundle ${value} not supported, ignored`);
  }

  const label = reader.string('label') ?? reader.string('from label');
  reader.accept('to label');
  reader.accept('set label');
  return { kind, codecs, strictSource, trustAddress, label };
}

function takePrefixed(flags: FlagSet, key: string): string[] {
  const values = flags.prefixed.get(key) ?? [];
  flags.prefixed.delete(key);
  return values;
}

function valueWarn(
  reader: NgDictReader,
  key: string,
  fine: (normalised: string) => boolean,
  why: string,
  warnings: string[],
): void {
  const value = reader.string(key);
  if (value !== undefined && !fine(value.toLowerCase())) {
    warnings.push(`${reader.spelling(key)}=${value} not supported (${why}), ignored`);
  }
}

/** codec: strip/mask remove codecs (we never transcode, so a masked codec is as gone as a stripped one). */
function readCodecs(reader: NgDictReader, flags: FlagSet, warnings: string[]): CodecFlags | undefined {
  const codec = reader.dict('codec') ?? reader.dict('codecs');
  const list = (key: string): string[] => [...(codec?.stringList(key) ?? []), ...takePrefixed(flags, `codec ${key}`)];
  const strip = [...list('strip'), ...list('mask')];
  const offer = list('offer');
  const except = list('except');
  for (const name of list('transcode')) warnings.push(`codec transcode ${name} not supported (no transcoding), ignored`);
  for (const key of ['set', 'accept', 'consume', 'ignore']) {
    for (const name of list(key)) warnings.push(`codec ${key} ${name} not supported, ignored`);
  }
  for (const key of codec?.unused() ?? []) warnings.push(`codec ${key} not supported, ignored`);

  const all = strip.some((name) => name === 'all' || name === 'full');
  const named = strip.filter((name) => name !== 'all' && name !== 'full');
  const keep = [...offer, ...except];
  if (all) {
    // rtpengine: stripping everything but nothing named to keep leaves the original list untouched.
    if (keep.length === 0) {
      warnings.push('codec strip all without codec offer/except would leave no codec, ignored');
      return named.length > 0 ? { strip: unique(named) } : undefined;
    }
    return { allow: unique(keep) };
  }
  if (offer.length > 0) warnings.push('codec offer: reordering codecs is not supported, ignored');
  return named.length > 0 ? { strip: unique(named) } : undefined;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

/**
 * rtpengine's default: the receiving side gets the transport the SDP already has. A DTLS-SRTP m-line is a
 * WebRTC leg; RTP/AVP(F) a plain one. Anything else (SDES RTP/SAVP, no audio) cannot be told apart here.
 */
export function sdpKind(sdp: string, warnings: string[]): LegKind {
  const proto = /^m=audio +\d+(?:\/\d+)? +(\S+)/m.exec(sdp)?.[1];
  if (proto === 'UDP/TLS/RTP/SAVPF' || proto === 'UDP/TLS/RTP/SAVP') return 'webrtc';
  if (proto === 'RTP/SAVPF' && /^a=fingerprint:/m.test(sdp)) return 'webrtc';
  if (proto === 'RTP/AVP' || proto === 'RTP/AVPF') return 'plain';
  warnings.push(`no transport-protocol given and the SDP's audio protocol is ${proto ?? 'missing'}: offering plain RTP`);
  return 'plain';
}
