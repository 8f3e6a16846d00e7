/**
 * Reply dictionaries shaped like rtpengine's (docs/ng_control_protocol.md: "query Message", "statistics
 * Message"), filled from what the media API reports. Our model is one audio stream per side with RTP and
 * RTCP on one relay, so each tag has one media with one stream; `stats` counts what that side sent us (as in
 * rtpengine, per ingress stream) and `stats_out` what we sent it. Keys rtpengine has and we cannot fill
 * (`last signal`, RTCP totals, SSRC/MOS data) are left out rather than invented.
 */
import { isIPv6 } from 'node:net';
import type { LegStats, MediaStatistics, SessionStats } from '../rtp-bridge/media-api.ts';
import type { BencodeInput } from './bencode.ts';
import type { NgCommandName } from './ng-command.ts';

type Dict = { [key: string]: BencodeInput | undefined };

/** The statistics keys of a `query` reply (also appended to a `delete` reply). */
export function sessionReplyFields(stats: SessionStats, now: number): Dict {
  const created = Math.floor(stats.createdAt / 1000);
  const tags: Dict = {};
  let packets = 0;
  let bytes = 0;
  let errors = 0;
  for (const leg of stats.legs) {
    packets += leg.packetsIn;
    bytes += leg.bytesIn;
    errors += leg.dropped;
    const other = stats.legs.find((l) => l !== leg)?.tag;
    tags[leg.tag] = {
      tag: leg.tag,
      created,
      'in dialogue with': other,
      medias: [legMedia(leg, now)],
    };
  }
  return {
    created,
    created_us: Math.floor(stats.createdAt * 1000),
    totals: { RTP: { packets, bytes, errors } },
    tags,
  };
}

function legMedia(leg: LegStats, now: number): Dict {
  const webrtc = leg.kind === 'webrtc';
  const flags = ['initialized'];
  if (webrtc) flags.push('rtcp-mux', 'DTLS-SRTP', 'ICE');
  if (leg.direction === 'sendrecv' || leg.direction === 'sendonly') flags.push('send');
  if (leg.direction === 'sendrecv' || leg.direction === 'recvonly') flags.push('recv');
  const streamFlags = ['RTP'];
  if (leg.remote !== undefined) streamFlags.push('filled');
  if (leg.packetsIn > 0) streamFlags.push('confirmed');
  const stream: Dict = {
    'local port': leg.local.port,
    'local address': leg.local.address,
    endpoint: leg.remote === undefined ? undefined : endpoint(leg.remote),
    'last packet': leg.lastPacketAgoMs === undefined ? undefined : Math.floor((now - leg.lastPacketAgoMs) / 1000),
    flags: streamFlags,
    stats: { packets: leg.packetsIn, bytes: leg.bytesIn, errors: leg.dropped },
    stats_out: { packets: leg.packetsOut, bytes: leg.bytesOut, errors: 0 },
    'packets lost': leg.lost,
    jitter: Math.round(leg.jitterMs),
    rtt: leg.rttMs === undefined ? undefined : Math.round(leg.rttMs),
  };
  return {
    index: 1,
    type: 'audio',
    protocol: webrtc ? 'UDP/TLS/RTP/SAVPF' : 'RTP/AVP',
    flags,
    state: leg.state,
    direction: leg.direction,
    streams: [stream],
  };
}

function endpoint(ep: { address: string; port: number }): Dict {
  return { family: isIPv6(ep.address) ? 'IPv6' : 'IPv4', address: ep.address, port: ep.port };
}

// ---------------------------------------------------------------------------------------------- statistics

// rtpengine's per-proxy counter names (the `controlstatistics` of `statistics` / `list jsonstats`).
const COUNTER_NAMES: Partial<Record<NgCommandName, string>> = {
  ping: 'pingcount',
  offer: 'offercount',
  answer: 'answercount',
  delete: 'deletecount',
  query: 'querycount',
  list: 'listcount',
  'start recording': 'startreccount',
  'stop recording': 'stopreccount',
  'block media': 'blkmedia',
  'unblock media': 'unblkmedia',
  'play media': 'playmedia',
  'play DTMF': 'playdtmf',
  statistics: 'statistics',
};
const MAX_PROXIES = 256;

/** Commands counted per control peer (bounded: beyond MAX_PROXIES peers, counts go to "other"). */
export class ControlCounters {
  readonly #proxies = new Map<string, Map<string, number>>();

  count(proxy: string, command: NgCommandName | undefined, failed: boolean): void {
    let counters = this.#proxies.get(proxy);
    if (counters === undefined) {
      if (this.#proxies.size >= MAX_PROXIES) return this.count('other', command, failed);
      counters = new Map();
      this.#proxies.set(proxy, counters);
    }
    const name = command === undefined ? undefined : COUNTER_NAMES[command];
    if (name !== undefined) counters.set(name, (counters.get(name) ?? 0) + 1);
    if (failed) counters.set('errorcount', (counters.get('errorcount') ?? 0) + 1);
  }

  toReply(): Dict {
    const names = [...Object.values(COUNTER_NAMES), 'errorcount'];
    const proxies: Dict[] = [];
    const totals = new Map<string, number>();
    for (const [proxy, counters] of this.#proxies) {
      const entry: Dict = { proxy };
      for (const name of names) {
        const n = counters.get(name) ?? 0;
        entry[name] = n;
        totals.set(name, (totals.get(name) ?? 0) + n);
      }
      proxies.push(entry);
    }
    const out: Dict = { proxies };
    for (const name of names) out[`total${name}`] = totals.get(name) ?? 0;
    return out;
  }
}

export function statisticsReplyFields(stats: MediaStatistics, uptimeMs: number, control: ControlCounters): Dict {
  return {
    statistics: {
      currentstatistics: {
        sessionsown: stats.sessions,
        sessionsforeign: 0,
        sessionstotal: stats.sessions,
        transcodedmedia: 0,
        legs: stats.legs,
        portsinuse: stats.portsInUse,
      },
      totalstatistics: {
        uptime: String(Math.floor(uptimeMs / 1000)),
        relayedpackets: stats.packetsRelayed,
      },
      controlstatistics: control.toReply(),
    },
  };
}
