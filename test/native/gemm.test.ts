// Float matrix products on the CPU: LibTorch's larger ones go to oneDNN's sgemm where
// LibTorch ships oneDNN (native/runtime/gemm.h), the rest to BLAS. Every layout of the
// operands, on both sides of the size threshold, against products worked in float64 here.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";

import { info, matmul, type Tensor, tensor } from "../../src/index.js";
import { hasSharedOneDnn } from "../requirements.js";

const ONEDNN_MINIMUM_WORK = 2 ** 20; // m * n * k, native/runtime/gemm.h

function randomMatrix(rows: number, cols: number, seed: number): Float32Array {
  let state = seed;
  return Float32Array.from({ length: rows * cols }, () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return (state / 2 ** 31) * 2 - 1;
  });
}

// A (m x k) times B (k x n), row-major, in float64.
function product(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) c[i * n + j]! += a[i * k + p]! * b[p * n + j]!;
  return c;
}

// The same matrix as a transposed view of its transpose: LibTorch then hands BLAS the other layout.
function asTransposedView(data: Float32Array, rows: number, cols: number): Tensor {
  const transposed = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) transposed[j * rows + i] = data[i * cols + j]!;
  return tensor(transposed, [cols, rows]).transpose(0, 1);
}

function runInfoWith(env: NodeJS.ProcessEnv): string {
  const script = 'import { info } from "./src/index.ts"; console.log(info().floatGemm);';
  return execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { env, encoding: "utf8" }).trim();
}

describe("float matrix products", () => {
  it.runIf(hasSharedOneDnn())("go to oneDNN with Debian's LibTorch, and to BLAS with SERE_TORCH_BLAS_GEMM=1", () => {
    expect(info().floatGemm).toBe("oneDNN");
    expect(runInfoWith({ ...process.env, SERE_TORCH_BLAS_GEMM: "1" })).toBe("BLAS");
  });

  const sizes = [
    { m: 150, k: 130, n: 70 }, // 1.37 M multiply-adds: oneDNN's side
    { m: 23, k: 31, n: 17 }, // BLAS's side
  ];
  for (const { m, k, n } of sizes) {
    for (const [aTransposed, bTransposed] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      const layout = `${aTransposed ? "A^T view" : "A"} x ${bTransposed ? "B^T view" : "B"}`;
      it(`${m} x ${k} x ${n} (${m * k * n >= ONEDNN_MINIMUM_WORK ? "oneDNN" : "BLAS"} side), ${layout}, matches float64`, async () => {
        const a = randomMatrix(m, k, 7 + m);
        const b = randomMatrix(k, n, 11 + n);
        const left = aTransposed ? asTransposedView(a, m, k) : tensor(a, [m, k]);
        const right = bTransposed ? asTransposedView(b, k, n) : tensor(b, [k, n]);
        const c = await matmul(left, right);
        expect(c.shape()).toEqual([m, n]);
        const got = c.toArray() as Float32Array;
        const expected = product(a, b, m, k, n);
        let worst = 0;
        for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(got[i]! - expected[i]!));
        // float32 sums of k products of magnitude <= 1
        expect(worst).toBeLessThan(k * 2e-7);
        for (const t of [left, right, c]) t.dispose();
      });
    }
  }
});
