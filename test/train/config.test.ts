import { describe, expect, it } from "vitest";

import { resolveFinetuneConfig } from "../../src/config/finetune.js";
import { parseOptions } from "../../src/config/parse.js";
import { resolveTrainConfig } from "../../src/config/resolve.js";
import { trainConfigSchema } from "../../src/config/train.js";
import { stepOptionsFrom } from "../../src/train/step-options.js";
import { Trainer } from "../../src/train/trainer.js";

describe("the training configuration", () => {
  it("defaults to the reference's arguments", () => {
    const c = parseOptions(trainConfigSchema, {}, "training configuration");
    expect(c.arch).toBe("vit_small");
    expect(c.outDim).toBe(8192);
    expect(c.overlapSize).toEqual([13, 13]);
    expect(c.predRatio).toEqual([0, 0.3]);
    expect(c.momentumTeacher).toBe(0.996);
    expect(c.momentumTeacherEnd).toBe(1);
    expect(c.studentTemp).toBe(0.1);
  });

  it("takes a named arch at its own size over a preset of another arch's sizes; sizes given still change it", () => {
    // fashion-mnist-tiny is a custom network 96 wide, 4 deep, 3 heads
    expect(resolveTrainConfig({})).toMatchObject({ arch: "custom", embedDim: 96, depth: 4, numHeads: 3 });
    const small = resolveTrainConfig({ overrides: { arch: "vit_small" } });
    expect([small.arch, small.embedDim, small.depth, small.numHeads, small.patchSize]).toEqual(["vit_small", undefined, undefined, undefined, 8]);
    const deeper = resolveTrainConfig({ overrides: { arch: "vit_small", depth: 6 } });
    expect([deeper.embedDim, deeper.depth]).toEqual([undefined, 6]);
    const finetune = resolveFinetuneConfig("fashion-mnist-tiny-finetune", { arch: "vit_tiny" });
    expect([finetune.embedDim, finetune.depth, finetune.numHeads]).toEqual([undefined, undefined, undefined]);
    expect(resolveFinetuneConfig("fashion-mnist-tiny-finetune", {})).toMatchObject({ arch: "custom", embedDim: 96 });
  });

  it("a Trainer refuses an option it does not know rather than training without it", () => {
    expect(() => new Trainer({}, { presett: "fashion-mnist-1h" } as never)).toThrow(
      /^invalid Trainer options:\n {2}presett: no such field; did you mean preset\?/,
    );
    expect(() => new Trainer({}, { signal: "stop" } as never)).toThrow(/signal: must be an AbortSignal/);
    // a preset's name where the fields go: before, its letters were taken for fields 0, 1, 2...
    expect(() => new Trainer("fashion-mnist-tiny" as never)).toThrow(
      `the training configuration must be an object of fields, e.g. { epochs: 10 } (given: "fashion-mnist-tiny"); a preset is named apart, as Trainer's option { preset }`,
    );
  });

  it("hands the student temperature to the objective of the step", () => {
    const options = (studentTemp?: number) =>
      stepOptionsFrom(parseOptions(trainConfigSchema, { device: "cpu", precision: "float32", studentTemp }, "training configuration"));
    expect(options().objective.studentTemp).toBe(0.1);
    expect(options(0.05).objective.studentTemp).toBe(0.05);
    expect(() => options(0)).toThrow(/studentTemp/);
  });

  it("names every invalid field with what was given and what is allowed", () => {
    const bad = { patchSize: 0, globalCropsScale: [0.9, 0.2], precision: "float8", warmupEpochs: 200, epochs: 100 };
    let message = "";
    try {
      parseOptions(trainConfigSchema, bad, "training configuration");
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^invalid training configuration:/);
    expect(message).toMatch(/patchSize: .*(>0|positive|greater than 0).* \(given: 0\)/i);
    expect(message).toMatch(/globalCropsScale: the first bound must not exceed the second \(given: \[0\.9,0\.2\]\)/);
    expect(message).toMatch(/precision: .*"float32".*"bfloat16".*"float16".* \(given: "float8"\)/);
  });

  it("checks fields against each other", () => {
    expect(() => parseOptions(trainConfigSchema, { warmupEpochs: 20, epochs: 10 }, "training configuration")).toThrow(
      /warmupEpochs: a warmup of 20 epochs is longer than the run's 10: give at most 10 \(fractions are allowed\) \(given: 20\)/,
    );
    expect(() => parseOptions(trainConfigSchema, { lrCooldownEpochs: 1 }, "training configuration")).toThrow(
      /lrCooldownEpochs: needs lrSchedule "constant"/,
    );
    expect(() =>
      parseOptions(trainConfigSchema, { lrSchedule: "constant", warmupEpochs: 6, lrCooldownEpochs: 5, epochs: 10 }, "training configuration"),
    ).toThrow(/lrCooldownEpochs: warmup and cooldown together must not exceed epochs \(10\) \(given: 5\)/);
    expect(() => parseOptions(trainConfigSchema, { precision: "float16" }, "training configuration")).toThrow(
      /precision: float16 needs a CUDA device/,
    );
    expect(() => parseOptions(trainConfigSchema, { patchSize: 16, globalCropsSize: 100 }, "training configuration")).toThrow(
      /globalCropsSize: must be a multiple of patchSize \(16\)/,
    );
    expect(() => parseOptions(trainConfigSchema, { convStem: true, patchSize: 12, globalCropsSize: 96 }, "training configuration")).toThrow(
      /patchSize: must be a power of two \(2, 4, 8, 16, \.\.\.\) with convStem, got 12/,
    );
    // vit_small's 384 channels halve three times for 16 px patches; 36 does not
    expect(parseOptions(trainConfigSchema, { convStem: true }, "training configuration").convStem).toBe(true);
    expect(() =>
      parseOptions(trainConfigSchema, { convStem: true, arch: "custom", embedDim: 36, depth: 1, numHeads: 3 }, "training configuration"),
    ).toThrow(/embedDim: must be a multiple of patchSize \/ 2 \(8\) with convStem, got 36/);
  });
});

describe("precision auto", () => {
  it("is bfloat16 on CUDA and on CPUs with native bfloat16, float32 on others; other values stay as given", async () => {
    const { stepPrecision } = await import("../../src/train/step-options.js");
    const { hasNativeBfloat16 } = await import("../../src/native/cpu.js");
    expect(stepPrecision({ precision: "auto", device: "cuda:1" })).toBe("bfloat16");
    expect(stepPrecision({ precision: "auto", device: "cpu" })).toBe(hasNativeBfloat16() ? "bfloat16" : "float32");
    expect(stepPrecision({ precision: "bfloat16", device: "cpu" })).toBe("bfloat16");
  });
});

describe("sideBySide (the step's forwards and updates side by side)", () => {
  it("auto is on for the Fashion-MNIST presets on the CPU and off for vit_tiny at 224 px and on CUDA; on and off stay as given", async () => {
    const { stepOptionsFrom } = await import("../../src/train/step-options.js");
    const { resolveTrainConfig } = await import("../../src/config/resolve.js");
    const sideBySide = (preset: "fashion-mnist-tiny" | "fashion-mnist-1h" | "vit-small-imagenet", overrides = {}) =>
      stepOptionsFrom(resolveTrainConfig({ preset, overrides: { precision: "float32", ...overrides } })).sideBySide;
    // 2 x 64 images x 10 tokens (24 px) x 96 = 122,880 values per layer (17 tokens at 32 px);
    // 2 x 8 x 197 x 192 = 605,184.
    expect(sideBySide("fashion-mnist-tiny")).toBe(true);
    expect(sideBySide("fashion-mnist-1h")).toBe(true);
    expect(sideBySide("vit-small-imagenet", { arch: "vit_tiny", device: "cpu", batchSizePerGpu: 8 })).toBe(false);
    // 2 x 80 x 17 x 96 = 261,120 is under 2^18 = 262,144; 2 x 81 x 17 x 96 is over; 2 x 136 x 10 x 96 is under.
    expect(sideBySide("fashion-mnist-tiny", { globalCropsSize: 32, batchSizePerGpu: 80 })).toBe(true);
    expect(sideBySide("fashion-mnist-tiny", { globalCropsSize: 32, batchSizePerGpu: 81 })).toBe(false);
    expect(sideBySide("fashion-mnist-tiny", { batchSizePerGpu: 136 })).toBe(true);
    expect(sideBySide("fashion-mnist-tiny", { batchSizePerGpu: 137 })).toBe(false);
    expect(sideBySide("fashion-mnist-tiny", { device: "cuda" })).toBe(false);
    expect(sideBySide("fashion-mnist-tiny", { sideBySide: "off" })).toBe(false);
    expect(sideBySide("vit-small-imagenet", { device: "cpu", sideBySide: "on" })).toBe(true);
  });
});
