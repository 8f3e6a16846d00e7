/**
 * Via branch parameters and tags for what the gateway originates. §8.1.1.7: "The branch parameter value MUST be
 * unique across space and time for all requests sent by the UA … MUST always begin with the characters
 * "z9hG4bK"". 96 random bits (hex, so case-insensitive comparison loses nothing) make a collision negligible.
 * Random bytes are drawn from a pool refilled 4 KiB at a time: one crypto call per ~200 branches instead of one
 * per request (it was a tenth of the CPU time of a transaction).
 */
import { randomFillSync } from 'node:crypto';
import { MAGIC_COOKIE } from '../via.ts';

const POOL = Buffer.alloc(4096);
let offset = POOL.length;

function randomHex(bytes: number): string {
  if (offset + bytes > POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const hex = POOL.toString('hex', offset, offset + bytes);
  offset += bytes;
  return hex;
}

export function newBranch(): string {
  return MAGIC_COOKIE + randomHex(12);
}

/** A From/To tag (§19.3: "at least 32 bits of randomness"); 64 here. */
export function newTag(): string {
  return randomHex(8);
}
