import { describe, it, expect } from 'vitest';
import { MIN_SLICE_PORTS, portSliceProblem, portSlices } from '../../src/cluster/port-slices.ts';

describe('portSlices', () => {
  it('splits the default range evenly, every slice starting on an even port like the range', () => {
    expect(portSlices({ min: 30000, max: 39999 }, 2)).toEqual([
      { min: 30000, max: 34999 },
      { min: 35000, max: 39999 },
    ]);
    const three = portSlices({ min: 30000, max: 39999 }, 3)!;
    expect(three).toEqual([
      { min: 30000, max: 33331 },
      { min: 33332, max: 36663 },
      { min: 36664, max: 39999 },
    ]);
    expect(three.every((s) => s.min % 2 === 0)).toBe(true);
  });

  it('covers the whole range with disjoint slices, the last taking the remainder', () => {
    for (const [min, max, n] of [[30001, 30100, 3], [40000, 40007, 2], [50000, 59999, 7], [20000, 20003, 1]] as const) {
      const slices = portSlices({ min, max }, n)!;
      expect(slices).toHaveLength(n);
      expect(slices[0]!.min).toBe(min);
      expect(slices.at(-1)!.max).toBe(max);
      for (let i = 1; i < n; i++) expect(slices[i]!.min).toBe(slices[i - 1]!.max + 1);
      for (const s of slices) expect(s.max - s.min + 1).toBeGreaterThanOrEqual(MIN_SLICE_PORTS);
    }
  });

  it('refuses slices with no room for a call, naming both keys', () => {
    expect(portSlices({ min: 30000, max: 30006 }, 2)).toBeUndefined();
    expect(portSlices({ min: 30000, max: 30007 }, 2)).toBeDefined();
    expect(portSliceProblem({ min: 30000, max: 30006 }, 2)).toBe(
      'media.ports 30000-30006 (7 ports) is too small for 2 media.workers: each needs at least 4 ports',
    );
    expect(portSliceProblem({ min: 30000, max: 39999 }, 2)).toBeUndefined();
  });
});
