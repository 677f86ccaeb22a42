// Data parallelism on this machine: two ranks over Gloo and loopback against one process;
// on a GPU, ranks over NCCL (one, and two where there are two GPUs) against one process.
import { describe, expect, it } from "vitest";

import { native } from "../../src/native/load.js";
import type { NativeStepOptions, NativeTensor } from "../../src/native/surface.js";
import { hasCudaDevices } from "../devices.js";
import { hasDataParallelism } from "../requirements.js";
import { batchNormCase, startRanks, tinyBatch, tinySchedule, tinyStepOptions, withConvStem } from "./helpers.js";

const numbers = (t: NativeTensor) => Array.from(t.toArray() as ArrayLike<number | bigint>, Number);
const maxDiff = (a: number[], b: number[]) => {
  expect(a.length).toBe(b.length);
  return a.reduce((worst, v, i) => Math.max(worst, Math.abs(v - b[i]!)), 0);
};

type StepOut = { losses: number[]; student: Record<string, number[]>; teacher: Record<string, number[]>; centre: number[]; patchCentre: number[] };

async function outputsOf(script: string, worldSize: number, args: string[] = []) {
  const runs = await startRanks(script, worldSize, args);
  const results = await Promise.all(runs.map((r) => r.exited));
  for (const r of results) expect(r.code, r.stderr).toBe(0);
  return results.map((r) => JSON.parse(r.stdout) as Record<string, unknown>);
}

/**
 * `steps` steps of one process on the whole batches against the ranks' outputs: the ranks agree
 * exactly (same averaged gradients, same statistics) and equal the process within `tolerance`
 * (losses and weights: `weights`; centres: `centres`), and the weights moved by far more than
 * that. Returns the names of the student's and the teacher's state entries.
 */
async function expectRanksMatchOneProcess(
  ranks: StepOut[],
  options: NativeStepOptions,
  images: number,
  steps: number,
  tolerance: { weights: number; centres: number },
): Promise<Record<"student" | "teacher", string[]>> {
  const step = new (native().SereStep)(options);
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) losses.push((await step.run(tinyBatch(images, i), tinySchedule)).total);
  expect(maxDiff(ranks[0]!.losses, losses)).toBeLessThan(tolerance.weights);
  for (const r of ranks) expect(r.losses).toEqual(ranks[0]!.losses);
  const names = { student: [] as string[], teacher: [] as string[] };
  for (const which of ["student", "teacher"] as const) {
    const single = await step.state(which);
    const initial = await new (native().SereStep)(options).state(which);
    for (const [name, tensor] of single) {
      names[which].push(name);
      for (const r of ranks) expect(r[which][name], `${which} ${name}`).toEqual(ranks[0]![which][name]);
      expect(maxDiff(ranks[0]![which][name]!, numbers(tensor)), `${which} ${name}`).toBeLessThan(tolerance.weights);
    }
    // the comparison is not vacuous: the weights moved by far more than the tolerance
    const moved = single.map(([, t], i) => maxDiff(numbers(t), numbers(initial[i]![1]!)));
    expect(Math.max(...moved)).toBeGreaterThan(2e-3);
  }
  const { centre, patchCentre } = await step.centres();
  expect(maxDiff(ranks[0]!.centre, numbers(centre))).toBeLessThan(tolerance.centres);
  expect(maxDiff(ranks[0]!.patchCentre, numbers(patchCentre))).toBeLessThan(tolerance.centres);
  step.dispose();
  return names;
}

describe.runIf(hasDataParallelism())("data parallelism (Gloo, 2 ranks on loopback)", () => {
  it("SyncBatchNorm equals one process's BatchNorm over the concatenated batch, forward and backward", async () => {
    const ranks = (await outputsOf("test/distributed/workers/batch-norm.ts", 2)) as Record<string, number[]>[];
    const c = batchNormCase();
    const t = native().Tensor;
    const whole = await native().testing.batchNorm2d(new t(c.input, c.shape), new t(c.weight, [3]), new t(c.bias, [3]), new t(c.gradOutput, c.shape));
    // per-position results: rank 0 holds images 0-1, rank 1 images 2-3
    for (const key of ["output", "gradInput"] as const) {
      expect(maxDiff([...ranks[0]![key]!, ...ranks[1]![key]!], numbers(whole[key]))).toBeLessThan(1e-5);
    }
    // running statistics are the same on every rank and equal the whole batch's
    for (const key of ["runningMean", "runningVar"] as const) {
      for (const r of ranks) expect(maxDiff(r[key]!, numbers(whole[key]))).toBeLessThan(1e-6);
    }
    // parameter gradients are per rank (the gradient averaging sums them): their sum is the whole batch's
    for (const key of ["gradWeight", "gradBias"] as const) {
      const sum = ranks[0]![key]!.map((v, i) => v + ranks[1]![key]![i]!);
      expect(maxDiff(sum, numbers(whole[key]))).toBeLessThan(1e-5);
      expect(maxDiff(ranks[0]![key]!, numbers(whole[key]))).toBeGreaterThan(1e-3); // and really per rank
    }
  }, 60_000);

  it.each([
    ["", tinyStepOptions()],
    [" (a convolutional stem: its BatchNorm too)", withConvStem(tinyStepOptions())],
  ])(
    "two ranks with batch B equal one process with batch 2B after 3 steps: losses, weights, BatchNorm statistics, teacher, centres%s",
    async (variant, options) => {
      const steps = 3;
      const images = 4;
      const args = [String(images), String(steps), ...(variant ? ["convStem"] : [])];
      const ranks = (await outputsOf("test/distributed/workers/step.ts", 2, args)) as unknown as StepOut[];

      const stateNames = await expectRanksMatchOneProcess(ranks, options, images, steps, { weights: 1e-4, centres: 1e-5 });
      for (const names of [stateNames.student, stateNames.teacher]) {
        expect(names.some((name) => name.endsWith("running_var"))).toBe(true);
        if (variant) expect(names).toContain("backbone.patch_embed.norms.0.running_var");
      }
    },
    120_000,
  );
});

// NCCL needs a GPU per rank: world size 1 on any CUDA machine, 2 where there are two GPUs.
describe.each([1, 2])("data parallelism over NCCL, %i rank(s)", (worldSize) => {
  it.runIf(hasDataParallelism() && hasCudaDevices(worldSize))(
    `on cuda [${worldSize} GPU(s)]: ${worldSize} rank(s) with batch B / ${worldSize} equal one CUDA process with batch B after 3 steps: losses, weights, centres`,
    async () => {
      const steps = 3;
      const images = 4;
      const ranks = (await outputsOf("test/distributed/workers/step.ts", worldSize, [String(images), String(steps), "cuda"])) as unknown as StepOut[];
      // One rank sees the same batch as the process (only the all-reduce differs); two ranks split it,
      // and CUDA's kernels (cuDNN's TF32 convolutions among them) round per batch size: 1e-3 then.
      const tolerance = worldSize === 1 ? 1e-4 : 1e-3;
      await expectRanksMatchOneProcess(ranks, { ...tinyStepOptions(), device: "cuda" }, images, steps, { weights: tolerance, centres: tolerance });
    },
    120_000,
  );
});
