/**
 * How `media.ports` is shared between media worker processes: each worker gets its own contiguous slice (two
 * processes binding from one range would race for the same ports). Pure arithmetic, used by the config schema
 * (to name the key at fault) and by the supervisor (to build each worker's flags).
 */

/** More processes than this is a typo, not a machine. */
export const MAX_MEDIA_WORKERS = 256;

/**
 * The fewest ports a slice may have: what the config demands of the whole range (`ports.max - ports.min >= 3`),
 * i.e. a WebRTC leg's rtcp-mux port and a plain leg's RTP/RTCP pair, plus one.
 */
export const MIN_SLICE_PORTS = 4;

export interface PortSlice {
  min: number;
  max: number;
}

/**
 * `count` slices of `min..max`. Every slice but the last has the same even size, so each one starts on the same
 * parity as the range and RTP/RTCP pairs (RFC 3550 §11: even RTP port, RTCP on the next) are never split across
 * two workers; the last one takes the remainder. `undefined` when a slice would be smaller than MIN_SLICE_PORTS.
 */
export function portSlices(range: PortSlice, count: number): PortSlice[] | undefined {
  const total = range.max - range.min + 1;
  const size = Math.floor(total / count / 2) * 2;
  if (count < 1 || size < MIN_SLICE_PORTS) return undefined;
  const slices: PortSlice[] = [];
  for (let i = 0; i < count; i++) {
    const min = range.min + i * size;
    slices.push({ min, max: i === count - 1 ? range.max : min + size - 1 });
  }
  return slices;
}

/** Why `range` cannot be split `count` ways, in words that name the keys; `undefined` when it can. */
export function portSliceProblem(range: PortSlice, count: number): string | undefined {
  if (portSlices(range, count) !== undefined) return undefined;
  const total = range.max - range.min + 1;
  return `media.ports ${range.min}-${range.max} (${total} ports) is too small for ${count} media.workers: each needs at least ${MIN_SLICE_PORTS} ports`;
}
