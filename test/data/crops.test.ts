import { readFileSync } from "node:fs";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { randomResizedCrop, roundHalfEven } from "../../src/data/crops.js";

interface CropCase {
  width: number;
  height: number;
  scale: [number, number];
  ratio: [number, number];
  draws: number[];
  expected: { x: number; y: number; width: number; height: number };
  fallback: boolean;
}

const fixture = JSON.parse(readFileSync(join(import.meta.dirname, "fixtures", "crops.json"), "utf8")) as { cases: CropCase[] };

describe("random resized crops", () => {
  it("equal torchvision's RandomResizedCrop boxes for the same draws (fixture from make_fixtures.py)", () => {
    expect(fixture.cases.length).toBeGreaterThan(300);
    for (const c of fixture.cases) {
      let used = 0;
      const box = randomResizedCrop(c.width, c.height, c.scale, c.ratio, () => c.draws[used++]!);
      expect(box, JSON.stringify(c)).toEqual(c.expected);
      expect(used).toBe(c.draws.length);
    }
  });

  it("covers the centre-crop fallback on both sides of the ratio range and inside it", () => {
    const fallbacks = fixture.cases.filter((c) => c.fallback);
    expect(fallbacks.some((c) => c.width / c.height > 4 / 3)).toBe(true);
    expect(fallbacks.some((c) => c.width / c.height < 3 / 4)).toBe(true);
    expect(fallbacks.some((c) => c.width / c.height >= 3 / 4 && c.width / c.height <= 4 / 3)).toBe(true);
    // 1000 x 10: the widest crop of ratio 4/3 with full height, centred.
    let used = 0;
    const wide = randomResizedCrop(1000, 10, [0.5, 1], [3 / 4, 4 / 3], () => [0.5, 0.5][used++ % 2]!);
    expect(wide).toEqual({ x: 493, y: 0, width: 13, height: 10 });
    expect(used).toBe(20);
  });

  it("rounds halves to even, as Python's round()", () => {
    expect([0.5, 1.5, 2.5, 2.4, 2.6, 3.5].map(roundHalfEven)).toEqual([0, 2, 2, 2, 3, 4]);
  });
});
