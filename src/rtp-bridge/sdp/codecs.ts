/**
 * Which codecs the gateway may put in an offer, and when two payload formats are the same codec.
 *
 * The gateway relays RTP payloads untouched (no transcoding), so a codec can only be used if both sides have it;
 * the offer towards the second side therefore carries a subset of the first side's offer, in its order.
 */
import { NoCommonCodecError } from './errors.ts';
import type { Codec } from './types.ts';

/**
 * An operator allow-list entry: `name`, `name/clockRate` or `name/clockRate/channels`, matched case-insensitively
 * (RFC 4855 §3: media subtype names are case-insensitive). `telephone-event` allows RFC 4733 events at every rate.
 */
export type CodecPolicy = readonly string[];

/** What the gateway relays when the operator says nothing: the codecs browsers and trunks share (RFC 7874 §3
 * makes Opus and G.711 mandatory for WebRTC endpoints), plus G.722 and RFC 4733 events. */
export const DEFAULT_CODECS: CodecPolicy = ['opus/48000/2', 'G722/8000', 'PCMU/8000', 'PCMA/8000', 'telephone-event'];

export function isTelephoneEvent(c: Pick<Codec, 'name'>): boolean {
  return c.name.toLowerCase() === 'telephone-event';
}

/** name/rate/channels, lower-cased: the identity of a codec independent of its payload type number. */
export function codecKey(c: Pick<Codec, 'name' | 'clockRate' | 'channels'>): string {
  return `${c.name.toLowerCase()}/${c.clockRate}/${c.channels}`;
}

function fmtpParam(fmtp: string | undefined, name: string): string | undefined {
  if (fmtp === undefined) return undefined;
  for (const part of fmtp.split(';')) {
    const [k, v] = part.split('=');
    if (k !== undefined && k.trim().toLowerCase() === name) return (v ?? '').trim();
  }
  return undefined;
}

/**
 * Same codec, so a payload of one can be relayed as the other. For AMR and AMR-WB the payload format also depends
 * on fmtp octet-align (RFC 4867 §8.3.1: streams differing in it are different configurations).
 */
export function sameCodec(a: Codec, b: Codec): boolean {
  if (codecKey(a) !== codecKey(b)) return false;
  const name = a.name.toLowerCase();
  if (name === 'amr' || name === 'amr-wb') {
    return (fmtpParam(a.fmtp, 'octet-align') ?? '0') === (fmtpParam(b.fmtp, 'octet-align') ?? '0');
  }
  return true;
}

function allows(policy: CodecPolicy, c: Codec): boolean {
  return policy.some((entry) => {
    const [name, rate, channels] = entry.split('/');
    if (name === undefined || name.toLowerCase() !== c.name.toLowerCase()) return false;
    if (rate !== undefined && Number(rate) !== c.clockRate) return false;
    return channels === undefined || Number(channels) === c.channels;
  });
}

/**
 * RFC 5761 §4: with RTCP multiplexed on the RTP port, payload types 64–95 collide with RTCP packet types, and the
 * WebRTC leg always multiplexes. The relay's demultiplexer refuses them on every leg, so they are never offered.
 */
export function isRelayablePayloadType(pt: number): boolean {
  return Number.isInteger(pt) && pt >= 0 && pt <= 127 && (pt < 64 || pt > 95);
}

/**
 * The codecs of an offer the gateway can pass on: in the offerer's order, allowed by every policy, on a payload
 * type the relay can carry; telephone-event only at a clock rate one of the kept audio codecs uses (RFC 4733
 * §2.1: events are timed in the clock of the audio they accompany), and once per rate.
 */
export function selectOfferCodecs(offered: readonly Codec[], policies: readonly CodecPolicy[]): Codec[] {
  const usable = offered.filter((c) => isRelayablePayloadType(c.pt) && policies.every((p) => allows(p, c)));
  const audio = usable.filter((c) => !isTelephoneEvent(c));
  if (audio.length === 0) {
    const names = offered.map((c) => `${c.name}/${c.clockRate}`).join(', ') || 'none';
    throw new NoCommonCodecError(`no relayable codec in the offer (offered: ${names})`);
  }
  return keepTelephoneEventsForRates(usable);
}

/** Drops telephone-event formats whose clock rate no audio codec in the list has; keeps one per rate. */
export function keepTelephoneEventsForRates(codecs: readonly Codec[]): Codec[] {
  const rates = new Set(codecs.filter((c) => !isTelephoneEvent(c)).map((c) => c.clockRate));
  const seenRates = new Set<number>();
  return codecs.filter((c) => {
    if (!isTelephoneEvent(c)) return true;
    if (!rates.has(c.clockRate) || seenRates.has(c.clockRate)) return false;
    seenRates.add(c.clockRate);
    return true;
  });
}
