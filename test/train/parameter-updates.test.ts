// The optimiser's update (native/train/parameter_updates.cc: AdamW with the reference's
// per-parameter clipping, in one pass per tensor on the CPU) over several steps, against
// Python's torch.optim.AdamW after DINO's clip_gradients on the same gradients. Several steps,
// because one AdamW step hardly depends on the gradient's scale (m / sqrt(v)); a parameter
// that misses a gradient keeps its own step count; one tensor is large enough to be split
// over the threads. In float64 the update takes the ATen ops that CUDA runs.
import { spawnSync } from "node:child_process";

import { describe, expect, it } from "vitest";

import { setThreads, tensor } from "../../src/index.js";
import { native } from "../../src/native/load.js";
import { hasPythonTorch, pythonWithTorch } from "../requirements.js";

const SHAPES = [[3, 5], [7], [200, 200]];
const STEPS = 4;
const OPTIONS = { lr: 0.01, weightDecay: 0.04, clipEach: 0.5 };
// The second parameter gets no gradient at step 2 (as a frozen last layer): AdamW skips it.
const SKIPPED = { step: 1, param: 1 };

/** Values of a cosine pattern, scaled: deterministic, no generator needed on either side. */
function pattern(count: number, seed: number, scale: number): number[] {
  return Array.from({ length: count }, (_, i) => scale * Math.cos(seed * 7.31 + i * 0.37));
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const initial = SHAPES.map((shape, p) => pattern(size(shape), p + 1, 1));
// Step s's gradients: the large parameter's norm is far above the clip, the small ones' near it.
const gradients = Array.from({ length: STEPS }, (_, s) =>
  SHAPES.map((shape, p) => (s === SKIPPED.step && p === SKIPPED.param ? null : pattern(size(shape), 10 * s + p + 3, p === 2 ? 0.05 : 0.2))),
);

const REFERENCE = `
import json, sys, torch
case = json.load(sys.stdin)
params = [torch.tensor(v, dtype=torch.float32).reshape(s) for v, s in zip(case["initial"], case["shapes"])]
optimizer = torch.optim.AdamW(params, lr=case["lr"], weight_decay=case["weightDecay"])
for step in case["gradients"]:
    for p, g in zip(params, step):
        p.grad = None if g is None else torch.tensor(g, dtype=torch.float32).reshape(p.shape)
    for p in params:  # DINO's utils.clip_gradients
        if p.grad is not None:
            clip_coef = case["clipEach"] / (p.grad.norm(2) + 1e-6)
            if clip_coef < 1:
                p.grad.mul_(clip_coef)
    optimizer.step()
json.dump([p.flatten().tolist() for p in params], sys.stdout)
`;

describe("the optimiser's update", () => {
  it.runIf(hasPythonTorch())(
    "matches torch.optim.AdamW after the reference's clipping, over four steps, at one and two threads, in one pass and in ATen ops",
    async () => {
      const run = spawnSync(pythonWithTorch()!, ["-c", REFERENCE], {
        input: JSON.stringify({ initial, shapes: SHAPES, gradients, ...OPTIONS }),
        encoding: "utf8",
        maxBuffer: 64 << 20,
      });
      expect(run.status, run.stderr).toBe(0);
      const expected = JSON.parse(run.stdout) as number[][];

      // float32 on the CPU takes the one-pass update; float64 the ATen ops that CUDA runs.
      for (const [threads, Values] of [
        [1, Float32Array],
        [2, Float32Array],
        [2, Float64Array],
      ] as const) {
        setThreads(threads);
        const params = SHAPES.map((shape, p) => tensor(Values.from(initial[p]!), shape));
        const grads = gradients.map((step) => step.map((g, p) => (g === null ? null : tensor(Values.from(g), SHAPES[p]!))));
        const updated = await native().testing.adamwSteps(params, grads, OPTIONS);
        for (let p = 0; p < SHAPES.length; p++) {
          const got = updated[p]!.toArray() as Float32Array | Float64Array;
          let worst = 0;
          for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - expected[p]![i]!));
          // Each step moves a parameter by about lr = 0.01; float32 rounding stays near 1e-7.
          expect(worst, `parameter ${p}, ${Values.name}, ${threads} thread(s)`).toBeLessThan(1e-6);
          // ...and the update did move it (four steps of about lr each).
          expect(Math.abs(got[0]! - initial[p]![0]!)).toBeGreaterThan(0.005);
        }
        for (const t of [...params, ...updated, ...grads.flat()]) t?.dispose();
      }
      setThreads(Number(process.env.OMP_NUM_THREADS) || (await import("node:os")).availableParallelism());
    },
  );
});
