/**
 * parseSdp: SDP text from the network → ParsedSession, or an SdpError. Never anything else.
 *
 * Two passes. A line scanner checks the RFC 4566 §5 structure sdp-transform is lenient about (every line
 * `<type>=<value>`, v=0 first, one well-formed o=, well-formed m= and c= lines, c= present wherever a port is set)
 * and reads the few things sdp-transform gets wrong for us: multiple a=fingerprint lines per level (RFC 8122 §5
 * allows several; sdp-transform keeps the last), a=ice-options with several tokens (it keeps the first), and the
 * o= session id as a string (it may turn it into a lossy number). sdp-transform then parses the attributes.
 */
import { isIP } from 'node:net';
import * as sdpTransform from 'sdp-transform';
import type { MediaAttributes, MediaDescription, SessionDescription } from 'sdp-transform';
import { SdpError } from './errors.ts';
import { staticPayload } from './static-payloads.ts';
import type {
  AddressFamily,
  Codec,
  Connection,
  CryptoAttribute,
  Direction,
  Fingerprint,
  IceCandidate,
  IceParameters,
  MediaSection,
  Origin,
  ParsedSession,
  RtcpAttribute,
  SetupRole,
} from './types.ts';

/** A SIP body is bounded by the transport; this bounds the work one SDP can cause (a Chromium offer with
 * audio, video and data is ~6 KB). */
export const MAX_SDP_LENGTH = 65_536;

const MEDIA_LINE = /^([A-Za-z0-9!#$%&'*+.^_`{|}~-]+) (\d{1,5})(?:\/(\d{1,5}))? (\S+)(?: +(.*))?$/;
const CONNECTION_LINE = /^IN (IP4|IP6) (\S+)$/;
const FINGERPRINT_VALUE = /^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})+$/;
const DIRECTIONS: ReadonlySet<string> = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);
const SETUP_ROLES: ReadonlySet<string> = new Set(['actpass', 'active', 'passive', 'holdconn']);

interface ScannedLevel {
  connection?: Connection;
  fingerprints: Fingerprint[];
  iceOptions?: string[];
}

interface ScannedMedia extends ScannedLevel {
  type: string;
  port: number;
  portCount?: number;
  proto: string;
  formats: string[];
}

interface Scan {
  origin: Origin;
  session: ScannedLevel;
  media: ScannedMedia[];
  normalized: string;
}

function invalid(message: string): SdpError {
  return new SdpError('SDP_INVALID', message);
}

function parseConnection(value: string, where: string): Connection {
  const m = CONNECTION_LINE.exec(value);
  if (m === null) throw invalid(`${where}: malformed c= line "c=${value}"`);
  return { family: m[1] as AddressFamily, address: m[2]! };
}

function scan(text: string): Scan {
  const lines = text.split(/\r\n|\r|\n/).map((l) => l.trimEnd()).filter((l) => l.length > 0);
  if (lines[0] !== 'v=0') throw invalid('SDP must start with v=0 (RFC 4566 §5.1)');
  let origin: Origin | undefined;
  const session: ScannedLevel = { fingerprints: [] };
  const media: ScannedMedia[] = [];
  let level: ScannedLevel = session;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (!/^[a-z]=/.test(line)) throw invalid(`line ${i + 1} is not <type>=<value>: "${line.slice(0, 40)}"`);
    const type = line[0];
    const value = line.slice(2);
    if (type === 'v') throw invalid('more than one v= line');
    if (type === 'o') {
      if (media.length > 0 || origin !== undefined) throw invalid('misplaced or repeated o= line');
      const t = value.split(' ');
      if (t.length !== 6 || t.some((x) => x.length === 0) || t[3] !== 'IN' || (t[4] !== 'IP4' && t[4] !== 'IP6')) {
        throw invalid(`malformed o= line "o=${value}"`);
      }
      origin = { username: t[0]!, sessionId: t[1]!, version: t[2]!, family: t[4] as AddressFamily, address: t[5]! };
    } else if (type === 'm') {
      const m = MEDIA_LINE.exec(value);
      if (m === null) throw invalid(`malformed m= line "m=${value.slice(0, 60)}"`);
      const port = Number(m[2]);
      if (port > 65535) throw invalid(`m= port ${port} out of range`);
      const formats = m[5] === undefined ? [] : m[5].trim().split(/ +/);
      if (formats.length === 0 && port !== 0) throw invalid(`m= line without formats: "m=${value}"`);
      const item: ScannedMedia = { type: m[1]!, port, proto: m[4]!, formats, fingerprints: [] };
      if (m[3] !== undefined) item.portCount = Number(m[3]);
      media.push(item);
      level = item;
    } else if (type === 'c') {
      const c = parseConnection(value, media.length === 0 ? 'session' : `m-line ${media.length - 1}`);
      level.connection ??= c;
    } else if (type === 'a' && value.startsWith('fingerprint:')) {
      const [algorithm, fp, extra] = value.slice('fingerprint:'.length).split(' ');
      if (algorithm !== undefined && fp !== undefined && extra === undefined && FINGERPRINT_VALUE.test(fp)) {
        level.fingerprints.push({ algorithm: algorithm.toLowerCase(), value: fp });
      }
    } else if (type === 'a' && value.startsWith('ice-options:')) {
      level.iceOptions = value.slice('ice-options:'.length).split(' ').filter((o) => o.length > 0);
    }
  }
  if (origin === undefined) throw invalid('SDP has no o= line (RFC 4566 §5.2)');
  return { origin, session, media, normalized: lines.join('\r\n') + '\r\n' };
}

/** sdp-transform turns numeric-looking values into numbers; String() gives back the text it came from. */
function str(v: unknown): string | undefined {
  return v === undefined || v === null ? undefined : String(v);
}

function positiveNumber(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

function isRtpProto(proto: string): boolean {
  return /(^|\/)RTP\//i.test(proto);
}

function parseCodecs(index: number, formats: readonly string[], m: MediaAttributes): Codec[] {
  const codecs: Codec[] = [];
  const seen = new Set<number>();
  for (const f of formats) {
    if (!/^\d{1,3}$/.test(f) || Number(f) > 127) throw invalid(`m-line ${index}: RTP format "${f}" is not a payload type`);
    const pt = Number(f);
    // A format listed twice is one format (its first position is its preference).
    if (seen.has(pt)) continue;
    seen.add(pt);
    const rtpmap = m.rtp.find((r) => Number(r.payload) === pt);
    let name: string;
    let clockRate: number;
    let channels = 1;
    if (rtpmap !== undefined) {
      const rate = positiveNumber(rtpmap.rate);
      const encoding = str(rtpmap.codec) ?? '';
      if (encoding.length === 0 || rate === undefined || !Number.isInteger(rate)) {
        throw invalid(`m-line ${index}: malformed a=rtpmap for payload type ${pt}`);
      }
      name = encoding;
      clockRate = rate;
      if (rtpmap.encoding !== undefined && String(rtpmap.encoding) !== '') {
        const ch = Number(rtpmap.encoding);
        if (!Number.isInteger(ch) || ch < 1) throw invalid(`m-line ${index}: bad channel count in a=rtpmap:${pt}`);
        channels = ch;
      }
    } else {
      const known = staticPayload(pt);
      // RFC 4566 §6: a dynamic payload type needs an rtpmap; without one it names nothing we could relay.
      if (known === undefined) continue;
      ({ name, clockRate, channels } = known);
    }
    const fmtp = str(m.fmtp.find((x) => Number(x.payload) === pt)?.config);
    const rtcpFb = (m.rtcpFb ?? [])
      .filter((x) => x.payload === '*' || Number(x.payload) === pt)
      .map((x) => (x.subtype === undefined ? String(x.type) : `${x.type} ${x.subtype}`));
    codecs.push({ pt, name, clockRate, channels, ...(fmtp === undefined ? {} : { fmtp }), rtcpFb });
  }
  return codecs;
}

function parseCandidates(m: MediaAttributes): IceCandidate[] {
  const out: IceCandidate[] = [];
  for (const c of m.candidates ?? []) {
    const component = Number(c.component);
    const port = Number(c.port);
    const priority = Number(c.priority);
    // RFC 8839 §5.1: a candidate line that cannot be understood is ignored, not fatal.
    if (!Number.isInteger(component) || !Number.isInteger(port) || port > 65535 || !Number.isFinite(priority)) continue;
    if (typeof c.ip !== 'string' || c.ip.length === 0) continue;
    const cand: IceCandidate = {
      foundation: String(c.foundation),
      component,
      transport: String(c.transport).toLowerCase(),
      priority,
      address: c.ip,
      port,
      type: String(c.type),
      ...(c.raddr === undefined ? {} : { relatedAddress: String(c.raddr) }),
      ...(c.rport === undefined ? {} : { relatedPort: Number(c.rport) }),
      ...(c.tcptype === undefined ? {} : { tcpType: String(c.tcptype) }),
    };
    out.push(cand);
  }
  return out;
}

function parseSetup(v: unknown, where: string): SetupRole | undefined {
  const s = str(v);
  if (s === undefined) return undefined;
  if (!SETUP_ROLES.has(s)) throw invalid(`${where}: unknown a=setup:${s}`);
  return s as SetupRole;
}

function parseDirection(v: unknown): Direction | undefined {
  const s = str(v);
  return s !== undefined && DIRECTIONS.has(s) ? (s as Direction) : undefined;
}

function parseRtcp(m: MediaAttributes): RtcpAttribute | undefined {
  if (m.rtcp === undefined) return undefined;
  const port = Number(m.rtcp.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return m.rtcp.address === undefined || m.rtcp.address === '' ? { port } : { port, address: String(m.rtcp.address) };
}

function parseMedia(
  index: number,
  scanned: ScannedMedia,
  m: MediaDescription,
  session: SessionDescription,
  scan: Scan,
): MediaSection {
  const connection = scanned.connection ?? scan.session.connection;
  const bundleOnly = m.bundleOnly !== undefined;
  if (scanned.port !== 0 && connection === undefined) {
    throw invalid(`m-line ${index} (${scanned.type} port ${scanned.port}) has no c= line (RFC 4566 §5.7)`);
  }
  const ufrag = str(m.iceUfrag ?? session.iceUfrag);
  const pwd = str(m.icePwd ?? session.icePwd);
  let ice: IceParameters | undefined;
  if (ufrag !== undefined && pwd !== undefined) {
    ice = {
      ufrag,
      pwd,
      options: scanned.iceOptions ?? scan.session.iceOptions ?? [],
      candidates: parseCandidates(m),
      endOfCandidates: m.endOfCandidates !== undefined,
    };
  }
  const crypto: CryptoAttribute[] = (m.crypto ?? []).map((c) => ({ tag: Number(c.id), suite: String(c.suite) }));
  const ssrcs = [...new Set((m.ssrcs ?? []).map((s) => Number(s.id)).filter((id) => Number.isInteger(id)))];
  const msid = m.msid?.[0];
  const ptime = positiveNumber(m.ptime);
  const maxptime = positiveNumber(m.maxptime);
  const rtcp = parseRtcp(m);
  const mid = str(m.mid);
  const setup = parseSetup(m.setup ?? session.setup, `m-line ${index}`);
  return {
    index,
    type: scanned.type,
    port: scanned.port,
    ...(scanned.portCount === undefined ? {} : { portCount: scanned.portCount }),
    proto: scanned.proto,
    formats: scanned.formats,
    codecs: isRtpProto(scanned.proto) ? parseCodecs(index, scanned.formats, m) : [],
    direction: parseDirection(m.direction) ?? parseDirection(session.direction) ?? 'sendrecv',
    ...(ptime === undefined ? {} : { ptime }),
    ...(maxptime === undefined ? {} : { maxptime }),
    ...(connection === undefined ? {} : { connection }),
    ...(rtcp === undefined ? {} : { rtcp }),
    rtcpMux: m.rtcpMux !== undefined,
    ...(mid === undefined ? {} : { mid }),
    bundleOnly,
    ...(ice === undefined ? {} : { ice }),
    fingerprints: scanned.fingerprints.length > 0 ? scanned.fingerprints : scan.session.fingerprints,
    ...(setup === undefined ? {} : { setup }),
    crypto,
    ssrcs,
    ...(msid === undefined ? {} : { msid: msid.appdata === undefined ? String(msid.id) : `${msid.id} ${msid.appdata}` }),
  };
}

/** Parses an SDP offer or answer. Throws SdpError (SDP_INVALID) for anything that is not usable SDP. */
export function parseSdp(text: string): ParsedSession {
  if (typeof text !== 'string') throw invalid('SDP body is not text');
  if (text.length > MAX_SDP_LENGTH) throw invalid(`SDP of ${text.length} characters exceeds ${MAX_SDP_LENGTH}`);
  const scanned = scan(text.startsWith('\uFEFF') ? text.slice(1) : text);
  let raw: SessionDescription;
  try {
    raw = sdpTransform.parse(scanned.normalized);
  } catch (cause) {
    throw new SdpError('SDP_INVALID', 'unparseable SDP', { cause });
  }
  if (raw.media.length !== scanned.media.length) throw invalid('m= lines could not be parsed');
  const media = scanned.media.map((s, i) => parseMedia(i, s, raw.media[i]!, raw, scanned));
  const direction = parseDirection(raw.direction);
  const bundleGroups = (raw.groups ?? [])
    .filter((g) => g.type.toUpperCase() === 'BUNDLE')
    .map((g) => String(g.mids).split(' ').filter((x) => x.length > 0));
  return {
    origin: scanned.origin,
    name: str(raw.name) ?? '',
    ...(scanned.session.connection === undefined ? {} : { connection: scanned.session.connection }),
    ...(direction === undefined ? {} : { direction }),
    iceLite: raw.icelite !== undefined,
    bundleGroups,
    media,
  };
}

/** True when the address is an IP literal of the family c= declared (what the media layer can send to). */
export function isIpLiteral(c: Connection): boolean {
  return isIP(c.address) === (c.family === 'IP4' ? 4 : 6);
}

/** RFC 3264 §8.4 / RFC 2543: c=0.0.0.0 (and the IPv6 unspecified address) means "do not send to me". */
export function isUnspecifiedAddress(c: Connection | undefined): boolean {
  return c !== undefined && (c.address === '0.0.0.0' || c.address === '::');
}
