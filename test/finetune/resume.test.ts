// A fine-tuning run stopped and resumed ends where an uninterrupted run ends: the same
// weights, with RandAugment, mixing, erasing, drop path and the moving average all on.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { Finetuner } from "../../src/finetune/finetuner.js";
import { readWeightGroups } from "../../src/model/weights.js";
import { maxAbsDiff } from "../model/helpers.js";
import { hasFashionMnist } from "../requirements.js";

const RUN = {
  dataPath: "/usr/share/datasets/fashion-mnist",
  limit: 64,
  arch: "custom",
  embedDim: 24,
  depth: 2,
  numHeads: 2,
  patchSize: 8,
  inputSize: 32,
  epochs: 2,
  warmupEpochs: 0.5,
  batchSizePerGpu: 16,
  lr: 1e-3,
  dropPath: 0.2,
  reprob: 0.5,
  modelEma: true,
  modelEmaDecay: 0.9,
  threads: 1,
} as const;

describe.runIf(hasFashionMnist())("resuming fine-tuning", () => {
  it("stopped after 3 steps and resumed, it ends with the uninterrupted run's weights and moving average", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-finetune-resume-"));
    await new Finetuner({ ...RUN, outputDir: join(dir, "whole") }).fit();
    const lines: string[] = [];
    const say = (line: string) => lines.push(line);
    const stopped = await new Finetuner({ ...RUN, maxSteps: 3, outputDir: join(dir, "parts") }, { say }).fit();
    expect(stopped.steps).toBe(3);
    const resumed = await new Finetuner({ ...RUN, resume: true, outputDir: join(dir, "parts") }, { say }).fit();
    expect(resumed.steps).toBe(8);
    // Each run says what it is about to do: the resumed one from where the first stopped.
    const plans = lines.filter((line) => line.startsWith("fine-tuning on "));
    expect(plans).toEqual([
      `fine-tuning on 64 of 64 training images of ${RUN.dataPath} (10 classes), input 32 px, in batches of 16: 2 epochs of 4 steps, to step 3; cpu, 1 thread, float32`,
      `fine-tuning on 64 of 64 training images of ${RUN.dataPath} (10 classes), input 32 px, in batches of 16: 2 epochs of 4 steps, from step 3 to step 8; cpu, 1 thread, float32`,
    ]);
    const read = async (run: string) => new Map(await readWeightGroups(join(dir, run, "checkpoint.pth")));
    const [whole, parts] = [await read("whole"), await read("parts")];
    for (const key of ["model", "model_ema"]) {
      const a = new Map(whole.get(key)!);
      const b = new Map(parts.get(key)!);
      expect(a.size).toBeGreaterThan(20);
      for (const [name, t] of a) expect(maxAbsDiff(t, b.get(name)!), `${key}: ${name}`).toBe(0);
    }
  }, 60_000);
});
