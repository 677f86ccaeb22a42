// The training bench (bench/train.ts): its two sides, bench/native-step.ts and
// bench/eager_step.py, take the same step case and compute the same step.

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { runEagerStep, runNativeStep, type StepCase, stepCaseOf, trainConfigOf } from "../../bench/train.js";
import { resolveTrainConfig } from "../../src/config/resolve.js";
import { tensor } from "../../src/index.js";
import { readWeightGroups } from "../../src/model/weights.js";
import { native } from "../../src/native/load.js";
import { stepOptionsFrom } from "../../src/train/step-options.js";
import { hasPythonTorch, pythonWithTorch } from "../requirements.js";
import { expectStepTimes, withoutInheritedKernelChoice } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "sere-step-bench-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A step of every part (local views, masks, clipping) small enough for a test. */
const TINY: StepCase & { lr: number } = {
  preset: "fashion-mnist-tiny",
  embedDim: 24,
  depth: 2,
  numHeads: 2,
  patchSize: 8,
  convStem: false,
  outDim: 64,
  hiddenDim: 32,
  bottleneckDim: 16,
  sharedHead: true,
  normLastLayer: false,
  dropPath: 0,
  globalSize: 32,
  localSize: 16,
  localCount: 2,
  batch: 4,
  overlapSize: [3, 4], // unequal: the query and key axes of the alignment cannot be confused
  clipGrad: 0.5,
  alpha: 0.2,
  beta: 0.5,
  lambda1: 1,
  lambda2: 1,
  studentTemp: 0.1,
  temperaturePixel: 0.5,
  temperatureChannel: 0.1,
  precision: "float32",
  threads: 1,
  warmup: 1,
  steps: 3,
  lr: 1e-3,
};
const LOSSES = ["total", "ibot", "cls", "mim", "spatial", "channel"] as const;

describe("step cases", () => {
  it.each([
    ["vit-small-imagenet", { arch: "vit_tiny", outDim: 8192, precision: "bfloat16", dropPath: 0, batchSizePerGpu: 8, device: "cpu" }],
    ["fashion-mnist-tiny", {}],
  ] as const)("%s: the case gives the native step the options of the configuration it came from", (preset, overrides) => {
    const config = resolveTrainConfig({ preset, overrides });
    const stepCase = stepCaseOf(preset, config, { threads: 2, warmup: 1, steps: 1 });
    // "custom" with the sizes the named architecture stands for: the same networks.
    const withoutArch = (o: object) => JSON.stringify(o, (key, value: unknown) => (key === "arch" ? undefined : value));
    expect(withoutArch(stepOptionsFrom(trainConfigOf(stepCase)))).toBe(withoutArch(stepOptionsFrom(config)));
    expect(stepCase).toMatchObject({ embedDim: config.arch === "vit_tiny" ? 192 : config.embedDim, batch: config.batchSizePerGpu, threads: 2 });
  });
});

describe.runIf(hasPythonTorch())("the eager step against the native step", () => {
  it("from the same weights and batch: the same losses, step after step", async () => {
    const saved = join(dir, "eager-initial.pth");
    const config = JSON.stringify({ ...TINY, warmup: 0 });
    const run = spawnSync(pythonWithTorch()!, ["bench/eager_step.py", "--config", config, "--save", saved], { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    const eager = JSON.parse(run.stdout) as { losses: Array<Record<string, number>> };

    const groups = new Map(await readWeightGroups(saved));
    const step = new (native().SereStep)(stepOptionsFrom(trainConfigOf(TINY)));
    await step.restore({
      student: groups.get("student")!,
      teacher: groups.get("teacher")!,
      optimizer: [],
      centre: tensor(new Float32Array(TINY.outDim), [1, TINY.outDim]),
      patchCentre: tensor(new Float32Array(TINY.outDim), [1, 1, TINY.outDim]),
      lossScale: 65536,
      goodSteps: 0,
      iteration: 0,
    });
    const batch = new Map(groups.get("batch")!);
    const schedule = { lr: TINY.lr, weightDecay: 0.04, momentum: 0.996, teacherTemp: 0.04, teacherPatchTemp: 0.04, freezeLastLayer: false };
    expect(eager.losses).toHaveLength(TINY.steps);
    for (const [i, expected] of eager.losses.entries()) {
      const result = await step.run(
        {
          globalViews: batch.get("global_views")!,
          localViews: batch.get("local_views")!,
          masks: batch.get("masks")!,
          globalRecords: batch.get("global_records")!,
          localRecords: batch.get("local_records")!,
        },
        schedule,
      );
      // The first step's losses come from the initial weights; the later ones follow the
      // clipping, AdamW, EMA and centres of the steps before.
      for (const key of LOSSES) expect(Math.abs(result[key] - expected[key]!), `${key}, step ${i + 1}`).toBeLessThan(1e-4);
    }
    step.dispose();
  });

  it("each side runs as a process and prints its timings, peak RSS and losses as one JSON line", async () => {
    const kernels: Array<string | null> = [];
    withoutInheritedKernelChoice();
    for (const side of [runNativeStep, runEagerStep]) {
      const times = await side(TINY);
      expectStepTimes(times, TINY);
      // At initialisation the channel relations are near uniform: CE about ln D.
      expect(Math.abs(times.losses[0]!.channel! - Math.log(TINY.embedDim))).toBeLessThan(0.3);
      kernels.push(times.blasCore);
    }
    // Both sides multiply matrices with the same OpenBLAS kernels (the project's choice).
    expect(kernels[1]).toBe(kernels[0]);
  });

  it("a case on cuda, where PyTorch sees no CUDA device (none visible), is refused by the eager side, naming the fix", async () => {
    const visible = process.env.CUDA_VISIBLE_DEVICES;
    process.env.CUDA_VISIBLE_DEVICES = ""; // the eager process inherits it: no device, GPU machine or not
    try {
      await expect(runEagerStep({ ...TINY, device: "cuda" })).rejects.toThrow(
        /device 'cuda', but this PyTorch .* sees no CUDA device: run it where one is/,
      );
    } finally {
      if (visible === undefined) delete process.env.CUDA_VISIBLE_DEVICES;
      else process.env.CUDA_VISIBLE_DEVICES = visible;
    }
  });

  it("a case without a field is refused by both sides, naming it", async () => {
    const { steps: _, ...withoutSteps } = TINY;
    for (const side of [runNativeStep, runEagerStep]) {
      await expect(side(withoutSteps as unknown as StepCase)).rejects.toThrow(/missing fields steps/);
    }
  });
});
