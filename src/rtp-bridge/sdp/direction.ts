/**
 * Direction algebra of RFC 3264 §5.1/§6.1. A direction is two capabilities of the SDP's author — it sends, it
 * receives — so the rules are bit operations: an answer may only keep what the offer allows in reverse.
 */
import type { Direction } from './types.ts';

const SEND = 1;
const RECV = 2;
const BITS: Readonly<Record<Direction, number>> = { inactive: 0, sendonly: SEND, recvonly: RECV, sendrecv: SEND | RECV };
const FROM_BITS: readonly Direction[] = ['inactive', 'sendonly', 'recvonly', 'sendrecv'];

/** The same stream seen from the other end: what one sends the other receives. */
export function reverseDirection(d: Direction): Direction {
  const b = BITS[d];
  return FROM_BITS[((b & SEND) << 1) | ((b & RECV) >> 1)]!;
}

export function intersectDirections(a: Direction, b: Direction): Direction {
  return FROM_BITS[BITS[a] & BITS[b]]!;
}

/**
 * RFC 3264 §6.1: the direction an answerer may use, given the offer's and what the answerer would like.
 * sendonly is answered recvonly or inactive, recvonly sendonly or inactive, inactive inactive.
 */
export function answerDirection(offered: Direction, wanted: Direction): Direction {
  return intersectDirections(wanted, reverseDirection(offered));
}

/** RFC 2543 hold (c=0.0.0.0, RFC 3264 §8.4): the author does not want to receive, whatever its a= says. */
export function withoutReceive(d: Direction): Direction {
  return FROM_BITS[BITS[d] & SEND]!;
}
