import { SrtpFailure } from './failure.ts';

/**
 * The SRTP packet index i = 2^16 · ROC + SEQ (RFC 3711 §3.3.1), and the receiver's estimate of the ROC a
 * packet was sent with, from the algorithm of Appendix A.
 */

export const SEQ_MODULUS = 0x10000;
const HALF = 0x8000;
export const MAX_ROC = 0xffffffff;

/**
 * RFC 3711 Appendix A: the ROC `v` a packet with sequence number `seq` most likely carries, given the
 * highest sequence number `highestSeq` (s_l) received so far and the local ROC: roc − 1 for a late packet
 * from before the last wrap, roc, or roc + 1 when the sequence number wrapped.
 */
export function estimateRoc(roc: number, highestSeq: number, seq: number): number {
  if (highestSeq < HALF) {
    return seq - highestSeq > HALF ? roc - 1 : roc;
  }
  return highestSeq - HALF > seq ? roc + 1 : roc;
}

/**
 * The index of a packet given the highest index seen so far in its stream (−1 before the first packet, whose
 * ROC is 0 by §3.3.1). The "update" half of Appendix A is then just highest = max(highest, index), done by
 * the caller once the packet authenticates.
 *
 * Returns TooOld for a packet that would need ROC −1: its index would be negative, which no sender can
 * produce under §3.3.1, and the peer could not authenticate it either (libsrtp's unsigned ROC underflows).
 * Returns IndexExhausted past ROC 2^32 − 1: §9.2 requires re-keying before the 2^48th packet.
 */
export function packetIndex(highest: number, seq: number): number {
  if (highest < 0) return seq;
  const roc = Math.floor(highest / SEQ_MODULUS);
  const v = estimateRoc(roc, highest - roc * SEQ_MODULUS, seq);
  if (v < 0) return SrtpFailure.TooOld;
  if (v > MAX_ROC) return SrtpFailure.IndexExhausted;
  return v * SEQ_MODULUS + seq;
}
