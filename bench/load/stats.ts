/**
 * Latency histograms that several processes fill and the driver merges: fixed buckets, 10 µs wide up to 20 ms
 * and 1 ms wide up to 2 s, one overflow bucket. Percentiles are read as the upper edge of the bucket the rank
 * falls in (so a reported p99 is never below the true one by more than a bucket: 10 µs below 20 ms).
 */

const FINE_US = 10;
const FINE_BUCKETS = 2000; // 0–20 ms
const COARSE_US = 1000;
const COARSE_BUCKETS = 1980; // 20 ms – 2 s
const BUCKETS = FINE_BUCKETS + COARSE_BUCKETS + 1;
const FINE_LIMIT = FINE_US * FINE_BUCKETS;

/** Sparse form for IPC: [bucket, count] pairs, plus the exact count, sum and maximum. */
export interface HistogramData {
  readonly buckets: readonly (readonly [number, number])[];
  readonly count: number;
  readonly sumUs: number;
  readonly maxUs: number;
}

export class LatencyHistogram {
  readonly counts = new Uint32Array(BUCKETS);
  count = 0;
  sumUs = 0;
  maxUs = 0;

  record(us: number): void {
    const v = us < 0 ? 0 : us;
    let b: number;
    if (v < FINE_LIMIT) b = Math.floor(v / FINE_US);
    else b = Math.min(FINE_BUCKETS + Math.floor((v - FINE_LIMIT) / COARSE_US), BUCKETS - 1);
    this.counts[b]!++;
    this.count++;
    this.sumUs += v;
    if (v > this.maxUs) this.maxUs = v;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sumUs = 0;
    this.maxUs = 0;
  }

  toData(): HistogramData {
    const buckets: [number, number][] = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i] !== 0) buckets.push([i, this.counts[i]!]);
    return { buckets, count: this.count, sumUs: this.sumUs, maxUs: this.maxUs };
  }

  add(data: HistogramData): void {
    for (const [b, n] of data.buckets) this.counts[b]! += n;
    this.count += data.count;
    this.sumUs += data.sumUs;
    if (data.maxUs > this.maxUs) this.maxUs = data.maxUs;
  }

  static merge(parts: readonly HistogramData[]): LatencyHistogram {
    const h = new LatencyHistogram();
    for (const p of parts) h.add(p);
    return h;
  }

  /** p in 0–100; µs (NaN when empty). */
  percentile(p: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(upperEdge(i), this.maxUs);
    }
    return this.maxUs;
  }

  get meanUs(): number {
    return this.count === 0 ? Number.NaN : this.sumUs / this.count;
  }
}

function upperEdge(bucket: number): number {
  if (bucket < FINE_BUCKETS) return (bucket + 1) * FINE_US;
  if (bucket < BUCKETS - 1) return FINE_LIMIT + (bucket - FINE_BUCKETS + 1) * COARSE_US;
  return Number.POSITIVE_INFINITY;
}

/** Nearest-rank percentile of raw samples (setup latencies: a few thousand per step). */
export function percentileOf(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
