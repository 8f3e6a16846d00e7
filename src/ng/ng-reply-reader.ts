/**
 * The ng client's reply readers: `query` / `statistics` / `list` replies back into the media API's types (the
 * inverse of ng-reply.ts). Nothing a node sends can make them throw: missing or mistyped fields read as 0,
 * empty or undefined.
 */
import type { BencodeDict, BencodeValue } from './bencode.ts';
import type { LegStats, MediaStatistics, SessionStats } from '../rtp-bridge/media-api.ts';

/** A `statistics` reply (ng-reply.ts statisticsReplyFields; rtpengine's "statistics Message") as MediaStatistics. */
export function parseStatisticsReply(reply: BencodeDict): MediaStatistics {
  const stats = dict(reply['statistics']);
  const current = dict(stats?.['currentstatistics']);
  const totals = dict(stats?.['totalstatistics']);
  return {
    sessions: num(current?.['sessionsown']) ?? num(current?.['sessionstotal']) ?? 0,
    legs: num(current?.['legs']) ?? 0,
    portsInUse: num(current?.['portsinuse']) ?? 0,
    packetsRelayed: num(totals?.['relayedpackets']) ?? 0,
  };
}

/** The Call-IDs of a `list` reply. */
export function parseListReply(reply: BencodeDict): string[] {
  return strings(reply['calls']);
}

function dict(value: BencodeValue | undefined): BencodeDict | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value) ? value : undefined;
}

function num(value: BencodeValue | undefined): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
  return undefined;
}

function str(value: BencodeValue | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function strings(value: BencodeValue | undefined): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function endpoint(value: BencodeValue | undefined): { address: string; port: number } | undefined {
  const ep = dict(value);
  const address = str(ep?.['address']);
  const port = num(ep?.['port']);
  return address === undefined || port === undefined ? undefined : { address, port };
}

/**
 * A `query` reply (docs/ng_control_protocol.md, "query Message"; src/ng/ng-reply.ts writes ours) back into
 * SessionStats: one leg per tag, from its first medium's first stream. Fields a node leaves out read as 0 or
 * undefined; nothing in the reply can make this throw.
 */
export function parseQueryReply(callId: string, reply: BencodeDict, now: number): SessionStats {
  const createdUs = num(reply['created_us']);
  const created = num(reply['created']);
  const legs: LegStats[] = [];
  const tags = dict(reply['tags']) ?? {};
  for (const [key, value] of Object.entries(tags)) {
    const tag = dict(value);
    if (tag === undefined) continue;
    const medias = tag['medias'];
    const media = dict(Array.isArray(medias) ? medias[0] : undefined);
    const streams = media?.['streams'];
    const stream = dict(Array.isArray(streams) ? streams[0] : undefined);
    const stats = dict(stream?.['stats']);
    const statsOut = dict(stream?.['stats_out']);
    const lastPacket = num(stream?.['last packet']);
    const protocol = str(media?.['protocol']) ?? '';
    legs.push({
      tag: str(tag['tag']) ?? key,
      kind: /TLS|SAVP/i.test(protocol) ? 'webrtc' : 'plain',
      local: { address: str(stream?.['local address']) ?? '', port: num(stream?.['local port']) ?? 0 },
      remote: endpoint(stream?.['endpoint']),
      state: str(media?.['state']) ?? '',
      direction: str(media?.['direction']) ?? '',
      packetsIn: num(stats?.['packets']) ?? 0,
      packetsOut: num(statsOut?.['packets']) ?? 0,
      bytesIn: num(stats?.['bytes']) ?? 0,
      bytesOut: num(statsOut?.['bytes']) ?? 0,
      lost: num(stream?.['packets lost']) ?? 0,
      jitterMs: num(stream?.['jitter']) ?? 0,
      rttMs: num(stream?.['rtt']),
      dropped: num(stats?.['errors']) ?? 0,
      lastPacketAgoMs: lastPacket === undefined ? undefined : Math.max(0, now - lastPacket * 1000),
    });
  }
  const createdAt = createdUs !== undefined ? Math.floor(createdUs / 1000) : created !== undefined ? created * 1000 : now;
  return { callId, createdAt, legs };
}
