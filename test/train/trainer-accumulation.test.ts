// The Trainer's schedule under gradient accumulation, as the reference's main loop sets it:
// the optimiser steps every accumIter iterations of an epoch, with the lr and weight decay of
// the round's first iteration, and the linear scaling rule counts every micro-batch.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import type { StepEvent } from "../../src/train/trainer.js";
import { Trainer } from "../../src/train/trainer.js";
import { learningRateAt, weightDecayAt } from "../../src/train/schedules.js";
import { tempDir, writeIdx } from "../data/helpers.js";

const tiny = {
  arch: "custom", embedDim: 24, depth: 1, numHeads: 2, patchSize: 8, outDim: 64, hiddenDim: 32, bottleneckDim: 16,
  globalCropsSize: 32, localCropsNumber: 2, localCropsSize: 16, overlapSize: [4, 4] as [number, number],
  precision: "float32", knnEval: false,
} as const;

describe("Trainer with gradient accumulation", () => {
  it("steps at each round's end with the lr and weight decay of its first iteration (global batch = batch x accumIter)", async () => {
    const data = tempDir("accumulation");
    writeIdx(data, "train", 12); // 3 batches of 4 per epoch: rounds {1, 2} and {3} (unfinished)
    const dir = mkdtempSync(join(tmpdir(), "sere-accumulation-"));
    const config = { ...tiny, dataPath: data, outputDir: dir, batchSizePerGpu: 4, accumIter: 2, epochs: 4, warmupEpochs: 1, lr: 0.01, maxSteps: 6 };
    await new Trainer(config, { preset: "fashion-mnist-tiny", progress: false }).fit();
    const log = readFileSync(join(dir, "log.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as StepEvent & { stepped: boolean });
    expect(log.map((l) => l.iteration)).toEqual([1, 2, 3, 4, 5, 6]);
    // iteration i (1-based) is global iteration i - 1; epoch 1 starts at global iteration 3
    expect(log.map((l) => l.stepped)).toEqual([false, true, false, false, true, false]);
    const timing = { epochs: 4, iterationsPerEpoch: 3 };
    const roundStarts = [0, 0, 2, 3, 3, 5];
    const c = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as { minLr: number; weightDecay: number; weightDecayEnd: number };
    const lr = (i: number) => learningRateAt(i, { ...timing, lr: 0.01, minLr: c.minLr, globalBatchSize: 8, warmupEpochs: 1 });
    log.forEach((l, k) => {
      expect(l.lr, `lr at iteration ${l.iteration}`).toBeCloseTo(lr(roundStarts[k]!), 12);
      expect(l.weightDecay).toBeCloseTo(weightDecayAt(roundStarts[k]!, { ...timing, weightDecay: c.weightDecay, weightDecayEnd: c.weightDecayEnd }), 12);
    });
    expect(log[1]!.lr).toBe(log[0]!.lr);
    expect(log[2]!.lr).toBeGreaterThan(log[1]!.lr); // warmup: the next round's lr is higher
  });
});
