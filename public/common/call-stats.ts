/**
 * Call quality from RTCPeerConnection.getStats() (W3C webrtc-stats). Pure: a list of stats dictionaries in,
 * numbers out, so it can be checked without a browser. Only the audio stream of a one-m-line call is read.
 */

/** One entry of an RTCStatsReport: `type` and `id` always, the rest per type. */
export interface StatsEntry {
  readonly type: string;
  readonly id: string;
  readonly [field: string]: unknown;
}

export interface CallStatsSample {
  /** DOMHighResTimeStamp of the inbound-rtp entry (ms), or of the newest entry seen. */
  readonly timestamp: number;
  readonly packetsReceived: number;
  readonly packetsLost: number;
  readonly bytesReceived: number;
  /** Seconds (inbound-rtp jitter, RFC 3550 §6.4.1 interarrival jitter converted by the browser). */
  readonly jitter: number | null;
  readonly totalAudioEnergy: number | null;
  readonly audioLevel: number | null;
  readonly packetsSent: number;
  readonly bytesSent: number;
  /** Seconds, from remote-inbound-rtp (RTCP RR, RFC 3550 §6.4.1 LSR/DLSR) or the nominated candidate pair. */
  readonly roundTripTime: number | null;
  readonly codec: string | null;
  readonly candidatePairState: string | null;
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function isAudio(entry: StatsEntry): boolean {
  return entry['kind'] === 'audio' || entry['mediaType'] === 'audio';
}

export function readCallStats(entries: Iterable<StatsEntry>): CallStatsSample {
  let inbound: StatsEntry | undefined;
  let outbound: StatsEntry | undefined;
  let remoteInbound: StatsEntry | undefined;
  let selectedPair: StatsEntry | undefined;
  let transportPairId: string | undefined;
  const pairs = new Map<string, StatsEntry>();
  const codecs = new Map<string, StatsEntry>();
  let newest = 0;
  for (const entry of entries) {
    newest = Math.max(newest, num(entry['timestamp']) ?? 0);
    switch (entry.type) {
      case 'inbound-rtp':
        if (isAudio(entry) && !inbound) inbound = entry;
        break;
      case 'outbound-rtp':
        if (isAudio(entry) && !outbound) outbound = entry;
        break;
      case 'remote-inbound-rtp':
        if (isAudio(entry) && !remoteInbound) remoteInbound = entry;
        break;
      case 'candidate-pair':
        pairs.set(entry.id, entry);
        if (entry['selected'] === true || (entry['nominated'] === true && entry['state'] === 'succeeded')) {
          selectedPair ??= entry;
        }
        break;
      case 'transport':
        if (typeof entry['selectedCandidatePairId'] === 'string') transportPairId = entry['selectedCandidatePairId'];
        break;
      case 'codec':
        codecs.set(entry.id, entry);
        break;
    }
  }
  if (transportPairId) selectedPair = pairs.get(transportPairId) ?? selectedPair;
  const codecEntry = typeof inbound?.['codecId'] === 'string' ? codecs.get(inbound['codecId']) : undefined;
  const mime = codecEntry?.['mimeType'];
  return {
    timestamp: num(inbound?.['timestamp']) ?? newest,
    packetsReceived: num(inbound?.['packetsReceived']) ?? 0,
    packetsLost: Math.max(0, num(inbound?.['packetsLost']) ?? 0),
    bytesReceived: num(inbound?.['bytesReceived']) ?? 0,
    jitter: num(inbound?.['jitter']),
    totalAudioEnergy: num(inbound?.['totalAudioEnergy']),
    audioLevel: num(inbound?.['audioLevel']),
    packetsSent: num(outbound?.['packetsSent']) ?? 0,
    bytesSent: num(outbound?.['bytesSent']) ?? 0,
    roundTripTime: num(remoteInbound?.['roundTripTime']) ?? num(selectedPair?.['currentRoundTripTime']),
    codec: typeof mime === 'string' ? mime.replace(/^audio\//i, '') : null,
    candidatePairState: typeof selectedPair?.['state'] === 'string' ? selectedPair['state'] : null,
  };
}

export type QualityGrade = 'good' | 'fair' | 'poor' | 'unknown';

export interface CallQuality {
  readonly rttMs: number | null;
  readonly jitterMs: number | null;
  /** Loss over the interval since the previous sample (%), or over the whole call without one. */
  readonly lossPercent: number | null;
  readonly grade: QualityGrade;
}

/**
 * Live quality: loss is computed on the deltas between two samples so one bad second shows even late in a
 * long call. Grades follow the usual VoIP budgets (ITU-T G.114: under 300 ms RTT stays conversational).
 */
export function callQuality(current: CallStatsSample, previous?: CallStatsSample): CallQuality {
  const received = current.packetsReceived - (previous?.packetsReceived ?? 0);
  const lost = current.packetsLost - (previous?.packetsLost ?? 0);
  const expected = received + lost;
  const lossPercent = expected > 0 ? (Math.max(0, lost) / expected) * 100 : null;
  const rttMs = current.roundTripTime === null ? null : current.roundTripTime * 1000;
  const jitterMs = current.jitter === null ? null : current.jitter * 1000;
  return { rttMs, jitterMs, lossPercent, grade: grade(rttMs, jitterMs, lossPercent) };
}

function grade(rttMs: number | null, jitterMs: number | null, lossPercent: number | null): QualityGrade {
  if (rttMs === null && jitterMs === null && lossPercent === null) return 'unknown';
  const worst = Math.max(
    rttMs === null ? 0 : rttMs >= 500 ? 2 : rttMs >= 300 ? 1 : 0,
    jitterMs === null ? 0 : jitterMs >= 50 ? 2 : jitterMs >= 30 ? 1 : 0,
    lossPercent === null ? 0 : lossPercent >= 5 ? 2 : lossPercent >= 1 ? 1 : 0,
  );
  return worst === 2 ? 'poor' : worst === 1 ? 'fair' : 'good';
}
