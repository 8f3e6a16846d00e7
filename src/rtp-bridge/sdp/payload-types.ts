/**
 * Payload type numbers: choosing them for the SDP the gateway sends on a leg, and the in-PT → out-PT tables the
 * relay applies in each direction.
 *
 * RFC 3264 §5.1/§6.1: the payload type numbers in an SDP are those its author expects to *receive*; an answer
 * SHOULD (not MUST) reuse the offer's numbers. So each side may number the same codec differently, and the relay
 * renumbers. RFC 3264 §8.3.2: within a session a number, once bound to a codec, is not rebound to another — the
 * gateway remembers what it has used on each leg (PayloadTypeBinding) and keeps to it on re-offers.
 */
import { isRelayablePayloadType, codecKey } from './codecs.ts';
import type { Codec } from './types.ts';

/** A payload type number the gateway has used for a codec (codecKey) in SDP it sent on a leg. */
export interface PayloadTypeBinding {
  readonly pt: number;
  readonly codec: string;
}

/** One row of a relay table; structurally the PayloadTypeMapping the stream rewriter takes. */
export interface PayloadTypeRoute {
  readonly in: number;
  readonly out: number;
  readonly clockRate: number;
  /** Encoding name, for logs and stats. */
  readonly encoding: string;
}

/**
 * The tables for one completed offer/answer: packets from the offerer's leg are renumbered through
 * `offererToAnswerer`, packets from the answerer's leg through `answererToOfferer`. A payload type not listed
 * was not negotiated and is dropped.
 */
export interface PayloadTypeMap {
  readonly offererToAnswerer: readonly PayloadTypeRoute[];
  readonly answererToOfferer: readonly PayloadTypeRoute[];
}

/** One codec of the negotiation, as numbered by the offerer, by the gateway's offer, and by the answerer. */
export interface NegotiatedCodec {
  readonly offerer: Codec;
  readonly sent: Codec;
  readonly answerer: Codec;
}

function* candidateNumbers(): Generator<number> {
  for (let pt = 96; pt <= 127; pt++) yield pt;
  // RFC 3551 §6 leaves 35–63 unassigned as well; browsers use them once 96–127 run out.
  for (let pt = 35; pt <= 63; pt++) yield pt;
}

/**
 * Numbers the codecs for SDP the gateway sends on a leg: the number already bound to the codec on that leg if
 * any, else the source's number if it is free there, else a free dynamic number. A codec for which no number is
 * left is not offered. Returns the codecs renumbered, with the source number alongside.
 */
export function assignPayloadTypes(
  codecs: readonly Codec[],
  bindings: readonly PayloadTypeBinding[],
): { codec: Codec; sourcePt: number }[] {
  const boundTo = new Map<number, string>();
  for (const b of bindings) boundTo.set(b.pt, b.codec);
  const taken = new Set<number>();
  const out: { codec: Codec; sourcePt: number }[] = [];
  const free = (pt: number, key: string): boolean =>
    isRelayablePayloadType(pt) && !taken.has(pt) && (boundTo.get(pt) ?? key) === key;
  for (const c of codecs) {
    const key = codecKey(c);
    let pt: number | undefined;
    for (const b of bindings) {
      if (b.codec === key && free(b.pt, key)) {
        pt = b.pt;
        break;
      }
    }
    if (pt === undefined && free(c.pt, key)) pt = c.pt;
    if (pt === undefined) {
      for (const n of candidateNumbers()) {
        if (free(n, key)) {
          pt = n;
          break;
        }
      }
    }
    if (pt === undefined) continue;
    taken.add(pt);
    out.push({ codec: pt === c.pt ? c : { ...c, pt }, sourcePt: c.pt });
  }
  return out;
}

/** The bindings after sending these codecs on the leg (a number's latest use wins). */
export function recordPayloadTypes(bindings: readonly PayloadTypeBinding[], codecs: readonly Codec[]): PayloadTypeBinding[] {
  const byPt = new Map<number, string>();
  for (const b of bindings) byPt.set(b.pt, b.codec);
  for (const c of codecs) byPt.set(c.pt, codecKey(c));
  return [...byPt].sort((x, y) => x[0] - y[0]).map(([pt, codec]) => ({ pt, codec }));
}

/**
 * The relay tables. Offerer → answerer: the offerer sends the numbers of the answer the gateway gave it, which
 * reuses the offerer's own, and the answerer expects its answer's numbers. Answerer → offerer: RFC 3264 says the
 * answerer sends with the numbers of the offer it received (the gateway's), but many peers send with their own
 * answer's numbers; both are accepted, the offer's number winning if the two ever collide.
 */
export function buildPayloadTypeMap(negotiated: readonly NegotiatedCodec[]): PayloadTypeMap {
  const offererToAnswerer: PayloadTypeRoute[] = negotiated.map((n) => ({
    in: n.offerer.pt,
    out: n.answerer.pt,
    clockRate: n.offerer.clockRate,
    encoding: n.offerer.name,
  }));
  const answererToOfferer: PayloadTypeRoute[] = negotiated.map((n) => ({
    in: n.sent.pt,
    out: n.offerer.pt,
    clockRate: n.offerer.clockRate,
    encoding: n.offerer.name,
  }));
  for (const n of negotiated) {
    if (answererToOfferer.some((r) => r.in === n.answerer.pt)) continue;
    answererToOfferer.push({ in: n.answerer.pt, out: n.offerer.pt, clockRate: n.offerer.clockRate, encoding: n.offerer.name });
  }
  return { offererToAnswerer, answererToOfferer };
}
