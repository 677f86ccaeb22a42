import { describe, expect, it } from "vitest";

import { Random } from "../../src/data/random.js";

describe("the seeded generator", () => {
  it("repeats its sequence for the same seed and differs for another", () => {
    const a = Random.seeded(42);
    const b = Random.seeded(42);
    const c = Random.seeded(43);
    const sa = Array.from({ length: 50 }, () => a.next());
    expect(Array.from({ length: 50 }, () => b.next())).toEqual(sa);
    expect(Array.from({ length: 50 }, () => c.next())).not.toEqual(sa);
    expect(Random.seeded(42, 1).next()).not.toBe(Random.seeded(42, 2).next());
  });

  it("continues the same sequence from a saved state (through JSON)", () => {
    const a = Random.seeded(7);
    for (let i = 0; i < 33; i++) a.next();
    const saved = JSON.parse(JSON.stringify(a.state())) as ReturnType<Random["state"]>;
    const rest = Array.from({ length: 20 }, () => a.next());
    const b = Random.fromState(saved);
    expect(Array.from({ length: 20 }, () => b.next())).toEqual(rest);
    expect(() => Random.fromState([1, 2, 3] as never)).toThrow(/four unsigned 32-bit integers/);
  });

  it("draws uniformly: mean, range and integer spread", () => {
    const r = Random.seeded(1);
    const xs = Array.from({ length: 20000 }, () => r.next());
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 8000; i++) counts[r.int(0, 4)]!++;
    for (const c of counts) expect(Math.abs(c - 2000)).toBeLessThan(150);
    expect(r.permutation(10).sort((p, q) => p - q)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
