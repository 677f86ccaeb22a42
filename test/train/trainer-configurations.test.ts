// Configurations the reference allows beside its defaults, through the Trainer: gradient
// accumulation (the optimiser steps every accumIter iterations of an epoch, with the lr and
// weight decay of the round's first iteration; the linear scaling rule counts every
// micro-batch) and runs without local views.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { resolveTrainConfig } from "../../src/config/resolve.js";
import { readWeightGroups } from "../../src/model/weights.js";
import { learningRateAt, weightDecayAt } from "../../src/train/schedules.js";
import type { StepEvent } from "../../src/train/trainer.js";
import { Trainer } from "../../src/train/trainer.js";
import { tempDir, writeIdx } from "../data/helpers.js";
import { TINY_RUN } from "./helpers.js";

const tiny = { ...TINY_RUN, maxSteps: 0 } as const;

describe("Trainer with gradient accumulation", () => {
  it("steps at each round's end with the lr and weight decay of its first iteration (global batch = batch x accumIter)", async () => {
    const data = tempDir("accumulation");
    writeIdx(data, "train", 12); // 3 batches of 4 per epoch: rounds {1, 2} and {3} (unfinished)
    const dir = mkdtempSync(join(tmpdir(), "sere-accumulation-"));
    const config = {
      ...tiny,
      dataPath: data,
      outputDir: dir,
      batchSizePerGpu: 4,
      accumIter: 2,
      epochs: 4,
      warmupEpochs: 1,
      lr: 0.01,
      lrSchedule: "cosine",
      maxSteps: 6,
    } as const;
    await new Trainer(config, { preset: "fashion-mnist-tiny", progress: false }).fit();
    const log = readFileSync(join(dir, "log.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as StepEvent & { stepped: boolean });
    expect(log.map((l) => l.iteration)).toEqual([1, 2, 3, 4, 5, 6]);
    // iteration i (1-based) is global iteration i - 1; epoch 1 starts at global iteration 3
    expect(log.map((l) => l.stepped)).toEqual([false, true, false, false, true, false]);
    const timing = { epochs: 4, iterationsPerEpoch: 3 };
    const roundStarts = [0, 0, 2, 3, 3, 5];
    const c = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as { minLr: number; weightDecay: number; weightDecayEnd: number };
    const lr = (i: number) => learningRateAt(i, { ...timing, lr: 0.01, minLr: c.minLr, globalBatchSize: 8, warmupEpochs: 1 });
    log.forEach((l, k) => {
      expect(l.lr, `lr at iteration ${l.iteration}`).toBeCloseTo(lr(roundStarts[k]!), 12);
      expect(l.weightDecay).toBeCloseTo(
        weightDecayAt(roundStarts[k]!, { ...timing, weightDecay: c.weightDecay, weightDecayEnd: c.weightDecayEnd }),
        12,
      );
    });
    expect(log[1]!.lr).toBe(log[0]!.lr);
    expect(log[2]!.lr).toBeGreaterThan(log[1]!.lr); // warmup: the next round's lr is higher
  });
});

describe("the learning rate's schedule (lrSchedule)", () => {
  it("after the warmup: a cosine to minLr, or the peak to the end with constant", async () => {
    const data = tempDir("lr-schedule");
    writeIdx(data, "train", 16); // 4 batches of 4 per epoch; 2 epochs: warmup iterations 0-1, then 6 more
    const loggedLr = async (lrSchedule: "cosine" | "constant") => {
      const dir = mkdtempSync(join(tmpdir(), `sere-lr-${lrSchedule}-`));
      const config = {
        ...tiny,
        dataPath: data,
        outputDir: dir,
        batchSizePerGpu: 4,
        epochs: 2,
        warmupEpochs: 0.5,
        lr: 0.064,
        minLr: 1e-4,
        lrSchedule,
        maxSteps: 8,
      };
      await new Trainer(config, { preset: "fashion-mnist-tiny", progress: false }).fit();
      return readFileSync(join(dir, "log.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as StepEvent).lr);
    };
    // peak = 0.064 x 4 / 256 = 0.001; warmup 0, 0.001 (both ends included)
    expect(await loggedLr("constant")).toEqual([0, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001, 0.001]);
    // cosine over the 6 iterations after the warmup: 1e-4 + 0.9e-3 x (1 + cos(pi k / 6)) / 2
    const cosine = [0, 0.001, ...[0, 1, 2, 3, 4, 5].map((k) => 1e-4 + 0.45e-3 * (1 + Math.cos((Math.PI * k) / 6)))];
    const logged = await loggedLr("cosine");
    expect(logged).toHaveLength(8);
    for (const [i, lr] of logged.entries()) expect(lr, `iteration ${i}`).toBeCloseTo(cosine[i]!, 12);
  });
});

describe("Trainer without local views (--local-crops-number 0, the reference's default)", () => {
  it("trains: finite losses, the student moves, a checkpoint without local SERE heads", async () => {
    const data = tempDir("no-locals");
    writeIdx(data, "train", 8);
    const dir = mkdtempSync(join(tmpdir(), "sere-no-locals-"));
    const steps: StepEvent[] = [];
    const trainer = new Trainer(
      { ...tiny, localCropsNumber: 0, dataPath: data, outputDir: dir, batchSizePerGpu: 4, maxSteps: 2 },
      { preset: "fashion-mnist-tiny", progress: false },
    );
    trainer.on("step", (e) => steps.push(e));
    const result = await trainer.fit();
    expect(result).toMatchObject({ iterations: 2, stoppedBy: "maxSteps" });
    for (const s of steps) for (const key of ["total", "cls", "mim", "spatial", "channel"] as const) expect(Number.isFinite(s[key]), key).toBe(true);
    // DINO's collapse monitor in the log: cls = entropy of the teacher's targets + KL
    const log = readFileSync(join(dir, "log.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as StepEvent);
    for (const l of log) {
      expect(l.clsEntropy).toBeGreaterThan(0);
      expect(l.clsEntropy).toBeLessThanOrEqual(Math.log(64) + 1e-6);
      expect(l.clsEntropy + l.clsKl).toBeCloseTo(l.cls, 9);
    }
    const names = (await readWeightGroups(join(dir, "checkpoint.pth"))).find(([k]) => k === "student")![1].map(([n]) => n);
    expect(names).toContain("backbone.pixel_sere.predictor.0.weight");
    expect(names.some((n) => n.includes("_sere_local"))).toBe(false);
  });
});

describe("the Fashion-MNIST presets", () => {
  it("fashion-mnist-1h is the default run for sixty passes or 55 minutes", () => {
    const tiny = resolveTrainConfig({ preset: "fashion-mnist-tiny" });
    const hour = resolveTrainConfig({ preset: "fashion-mnist-1h" });
    const length = (c: typeof tiny) => ({ epochs: c.epochs, maxMinutes: c.maxMinutes, outputDir: c.outputDir });
    expect({ ...hour, ...length(tiny) }).toEqual(tiny);
    expect(length(tiny)).toEqual({ epochs: 12, maxMinutes: 9, outputDir: "runs/fashion-mnist-tiny" });
    expect(length(hour)).toEqual({ epochs: 60, maxMinutes: 55, outputDir: "runs/fashion-mnist-1h" });
    expect([hour.globalCropsSize, hour.localCropsNumber, hour.batchSizePerGpu, hour.lr]).toEqual([24, 0, 64, 2.12e-3]);
    // the schedules keep their starting values, so a run cut by the time limit is the first part of the whole one
    expect([hour.lrSchedule, hour.momentumTeacherEnd, hour.weightDecayEnd]).toEqual(["constant", 0.99, 0.04]);
  });

  it.each(["fashion-mnist-tiny", "fashion-mnist-1h"])("%s runs as it is, a few steps, and logs the collapse monitor", async (preset) => {
    const data = tempDir(`preset-${preset}`);
    writeIdx(data, "train", 8);
    const dir = mkdtempSync(join(tmpdir(), `sere-${preset}-`));
    await new Trainer({ dataPath: data, outputDir: dir, batchSizePerGpu: 4, maxSteps: 2, knnEval: false }, { preset, progress: false }).fit();
    const log = readFileSync(join(dir, "log.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as StepEvent);
    expect(log).toHaveLength(2);
    for (const l of log) {
      expect(l.clsEntropy).toBeGreaterThan(0);
      expect(l.clsEntropy).toBeLessThanOrEqual(Math.log(256) + 1e-6);
      expect(l.clsEntropy + l.clsKl).toBeCloseTo(l.cls, 9);
    }
  });
});
