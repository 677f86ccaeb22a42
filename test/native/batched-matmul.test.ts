// matmul of batches of small float32 matrices on the CPU takes the addon's own loop split
// over the threads (native/runtime/batched_matmul.cc; the ViT's attention and the SERE
// relations use it); larger products take LibTorch's. Both against products computed here in
// float64, at one and two threads.
import { availableParallelism } from "node:os";

import { afterAll, describe, expect, it } from "vitest";

import { matmul, setThreads, tensor } from "../../src/index.js";

/** Uniform values in [-1, 1) from a seeded linear congruential generator. */
function values(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let state = seed;
  for (let i = 0; i < count; i++) {
    state = (state * 1103515245 + 12345) % 2147483648;
    out[i] = (state / 2147483648) * 2 - 1;
  }
  return out;
}

/** a (batch, m, k) @ b (batch, k, n) in float64, one term at a time. */
function reference(a: Float32Array, b: Float32Array, batch: number, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(batch * m * n);
  for (let s = 0; s < batch; s++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let p = 0; p < k; p++) sum += a[s * m * k + i * k + p]! * b[s * k * n + p * n + j]!;
        c[s * m * n + i * n + j] = sum;
      }
  return c;
}

const CASES = [
  { name: "attention scores: 2 x 3 heads of 17 x 32 by 32 x 17 (small)", lead: [2, 3], m: 17, k: 32, n: 17 },
  { name: "attention output: 64 of 17 x 17 by 17 x 32 (small)", lead: [64], m: 17, k: 17, n: 32 },
  { name: "single columns: 5 of 1 x 7 by 7 x 1 (small)", lead: [5], m: 1, k: 7, n: 1 },
  { name: "channel relation: 3 of 96 x 16 by 16 x 96 (LibTorch's product)", lead: [3], m: 96, k: 16, n: 96 },
];

describe("matmul of batches of small matrices", () => {
  const cores = availableParallelism();
  afterAll(() => setThreads(Number(process.env.OMP_NUM_THREADS) || cores));

  for (const c of CASES) {
    it(`${c.name} matches a float64 product at one and two threads`, async () => {
      const batch = c.lead.reduce((x, y) => x * y, 1);
      const aValues = values(batch * c.m * c.k, 1);
      const bValues = values(batch * c.k * c.n, 2);
      const expected = reference(aValues, bValues, batch, c.m, c.k, c.n);
      const a = tensor(aValues, [...c.lead, c.m, c.k]);
      const b = tensor(bValues, [...c.lead, c.k, c.n]);
      const results: Float32Array[] = [];
      for (const threads of [1, 2]) {
        setThreads(threads);
        const product = await matmul(a, b);
        expect(product.shape()).toEqual([...c.lead, c.m, c.n]);
        const got = product.toArray() as Float32Array;
        product.dispose();
        let worst = 0;
        for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(got[i]! - expected[i]!));
        // k terms in [-1, 1): float32 rounding stays far below 1e-4
        expect(worst).toBeLessThan(1e-4);
        results.push(got);
      }
      // Each entry sums its terms in the same order however the batch is split.
      expect(results[1]).toEqual(results[0]);
      a.dispose();
      b.dispose();
    });
  }

  it("multiplies an empty batch", async () => {
    const product = await matmul(tensor(new Float32Array(0), [0, 3, 4]), tensor(new Float32Array(0), [0, 4, 2]));
    expect(product.shape()).toEqual([0, 3, 2]);
    product.dispose();
  });
});
