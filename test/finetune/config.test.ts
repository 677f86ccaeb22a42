// The fine-tuning configuration: iBOT's recipe by default, the presets' published values, and
// bad values refused by name with what to do.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FINETUNE_PRESETS, type FinetuneConfigInput, finetuneConfigSchema, resolveFinetuneConfig } from "../../src/config/finetune.js";
import { Finetuner } from "../../src/finetune/finetuner.js";

const data = { dataPath: "/data" };

describe("the fine-tuning configuration", () => {
  it("defaults to iBOT's run_class_finetuning.py and run.sh imagenet_cls values", () => {
    const c = finetuneConfigSchema.parse(data);
    expect(c).toMatchObject({
      epochs: 100,
      warmupEpochs: 20,
      batchSizePerGpu: 128,
      lr: 4e-3,
      minLr: 1e-6,
      weightDecay: 0.05,
      layerDecay: 0.65,
      dropPath: 0.1,
      smoothing: 0.1,
      mixup: 0.8,
      cutmix: 1,
      mixupProb: 1,
      mixupSwitchProb: 0.5,
      reprob: 0.25,
      randAugmentOps: 2,
      randAugmentMagnitude: 9,
      initScale: 0.001,
      pooling: "cls",
      clipGrad: 0,
      modelEma: false,
    });
  });

  it("has the published commands' values in its ImageNet presets", () => {
    expect(resolveFinetuneConfig("vit-small-imagenet-finetune", {})).toMatchObject({
      arch: "vit_small",
      epochs: 200,
      dropPath: 0.1,
      layerDecay: 0.75,
    });
    expect(resolveFinetuneConfig("vit-base-imagenet-finetune", {})).toMatchObject({ arch: "vit_base", epochs: 100, dropPath: 0.2, layerDecay: 0.65 });
    expect(resolveFinetuneConfig("deit-transfer-finetune", {})).toMatchObject({
      layerDecay: 1,
      lr: 1.125e-5,
      minLr: 1e-5,
      warmupEpochs: 5,
      modelEma: true,
    });
    expect(Object.keys(FINETUNE_PRESETS)).toContain("fashion-mnist-tiny-finetune");
  });

  it("refuses bad values by name, with the fix", () => {
    expect(() => resolveFinetuneConfig("no-such-preset", data)).toThrow(
      /unknown fine-tuning preset "no-such-preset"; the presets are vit-small-imagenet-finetune/,
    );
    expect(() => resolveFinetuneConfig(undefined, { ...data, precision: "float16" })).toThrow(
      /precision: float16 needs a CUDA device; on the CPU use "bfloat16" or "float32"/,
    );
    expect(() => resolveFinetuneConfig(undefined, { ...data, epochs: 5 })).toThrow(
      /warmupEpochs: a warmup of 20 epochs is longer than the run's 5: give at most 5 \(fractions are allowed\) \(not given\)/,
    );
    expect(() => resolveFinetuneConfig(undefined, { ...data, labelFraction: 0 })).toThrow(/labelFraction/);
    expect(() => resolveFinetuneConfig(undefined, {})).toThrow(/dataPath/);
    expect(() => resolveFinetuneConfig(undefined, { ...data, epoch: 5 } as Partial<FinetuneConfigInput>)).toThrow(
      /epoch: no such field; did you mean epochs(, [a-zA-Z]+)*\? \(given: 5\)/,
    );
  });

  it("a Finetuner refuses a hook it does not know, which it would never call", () => {
    const config = { dataPath: "/usr/share/datasets/fashion-mnist" };
    expect(() => new Finetuner(config, { onSteps: () => {} } as never)).toThrow(
      /^invalid Finetuner hooks:\n {2}onSteps: no such field; did you mean onStep\?/,
    );
    expect(() => new Finetuner(config, { onStep: 3 } as never)).toThrow(/onStep: must be a function/);
  });

  it("resumed in a folder of no run, says so naming the settings as the caller gives them", () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-finetune-no-run-"));
    expect(() => resolveFinetuneConfig(undefined, { resume: true, outputDir: dir })).toThrow(
      `resume: true: ${dir} holds no fine-tuning run (no config.json): give the run's outputDir, or start a new run without resume: true`,
    );
    expect(() => resolveFinetuneConfig(undefined, { resume: true, outputDir: dir }, { names: "flags" })).toThrow(
      `--resume: ${dir} holds no fine-tuning run (no config.json): give the run's --output-dir, or start a new run without --resume`,
    );
  });

  it("resumed, takes the run's own settings from its config.json: over the preset, under the values given", () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-finetune-config-"));
    const run = {
      ...finetuneConfigSchema.parse({ dataPath: "/data/mine", epochs: 30, warmupEpochs: 2, lr: 1e-3 }),
      outputDir: "elsewhere",
      maxSteps: 7,
    };
    writeFileSync(join(dir, "config.json"), JSON.stringify(run));
    // the folder alone: its run's settings, but for where the run is and how this invocation ends
    expect(resolveFinetuneConfig(undefined, { outputDir: dir, resume: true })).toMatchObject({
      dataPath: "/data/mine",
      epochs: 30,
      lr: 1e-3,
      outputDir: dir,
      maxSteps: 0,
      resume: true,
    });
    expect(resolveFinetuneConfig("fashion-mnist-tiny-finetune", { outputDir: dir, resume: true, lr: 2e-3 })).toMatchObject({
      dataPath: "/data/mine",
      epochs: 30,
      lr: 2e-3,
    });
    // a new run in the same folder takes nothing from it
    expect(resolveFinetuneConfig(undefined, { ...data, outputDir: dir })).toMatchObject({ dataPath: "/data", epochs: 100 });
  });
});
