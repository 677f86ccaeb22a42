import { describe, expect, it } from "vitest";

import { DEFAULT_MASK_OPTIONS, drawMask } from "../../src/data/masks.js";
import { Random } from "../../src/data/random.js";

describe("block masks (BEiT generator, the method's ratio rule)", () => {
  it("over 2,000 draws: about half empty, mean ratio of the others about 0.3, blocks of at least (n//3)^2", () => {
    const n = 14;
    const minArea = Math.floor(n / 3) ** 2;
    const random = Random.seeded(2024);
    let empty = 0;
    let short = 0;
    const ratios: number[] = [];
    for (let k = 0; k < 2000; k++) {
      const { mask, ratio, blocks } = drawMask(random, n, DEFAULT_MASK_OPTIONS);
      const masked = mask.reduce((s, v) => s + v, 0);
      if (ratio === 0) {
        expect(masked).toBe(0);
        empty++;
        continue;
      }
      expect(ratio).toBeGreaterThanOrEqual(0.1);
      expect(ratio).toBeLessThan(0.5);
      ratios.push(masked / (n * n));
      // Every block is drawn for at least (n//3)^2 patches, or for the remaining budget
      // when less is left (its sides are then rounded, as in the reference); the mask as a
      // whole reaches that size except in the rare case the generator gives up early.
      for (const b of blocks) expect(b.targetArea).toBeGreaterThanOrEqual(Math.min(minArea, b.budget));
      expect(blocks[0]!.targetArea).toBeGreaterThanOrEqual(minArea);
      expect(blocks[0]!.height * blocks[0]!.width).toBeGreaterThanOrEqual(minArea - 4);
      if (masked < minArea) short++; // the generator gave up after 10 failed tries
      // Blocks stop at the budget: never far beyond r * N.
      expect(masked).toBeLessThanOrEqual(Math.ceil(ratio * n * n) + minArea);
    }
    expect(Math.abs(empty / 2000 - 0.5)).toBeLessThan(0.04);
    expect(short / ratios.length).toBeLessThan(0.01);
    const mean = ratios.reduce((s, r) => s + r, 0) / ratios.length;
    expect(Math.abs(mean - 0.3)).toBeLessThan(0.03);
  });

  it("follows configured ratios: one fixed ratio and no empty masks", () => {
    const random = Random.seeded(5);
    for (let k = 0; k < 200; k++) {
      const { mask, ratio } = drawMask(random, 14, { ratio: [0.4], ratioVar: [0], minAspect: 0.3 });
      expect(ratio).toBe(0.4);
      const masked = mask.reduce((s, v) => s + v, 0);
      expect(masked).toBeGreaterThan(0.25 * 196);
    }
  });
});
