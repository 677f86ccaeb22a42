// A fine-tuned classifier's backbone serves where a backbone does (evaluation, features,
// continued pretraining): its checkpoint's network without the linear head, its architecture
// from the checkpoint.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { openBackbone } from "../../src/eval/backbone.js";
import { Finetuner } from "../../src/finetune/finetuner.js";
import { readWeightGroups, toModelNames } from "../../src/model/weights.js";
import { tensor } from "../../src/tensor.js";
import { exportBackbone } from "../../src/train/export.js";
import { Trainer } from "../../src/train/trainer.js";
import { tempDir } from "../data/helpers.js";
import { maxAbsDiff } from "../model/helpers.js";
import { hasFashionMnist } from "../requirements.js";

const RUN = {
  dataPath: "/usr/share/datasets/fashion-mnist",
  limit: 32,
  arch: "custom",
  embedDim: 24,
  depth: 2,
  numHeads: 2,
  patchSize: 8,
  convStem: true,
  inputSize: 32,
  epochs: 1,
  warmupEpochs: 0,
  batchSizePerGpu: 16,
  maxSteps: 1,
  threads: 1,
} as const;

describe.runIf(hasFashionMnist())("the backbone of a fine-tuning checkpoint", () => {
  for (const pooling of ["cls", "mean"] as const) {
    it(`is its network without the head, in the architecture it stores (${pooling} pooling)`, async () => {
      const dir = tempDir(`finetuned-backbone-${pooling}`);
      await new Finetuner({ ...RUN, pooling, outputDir: dir }).fit();
      const checkpoint = join(dir, "checkpoint.pth");
      // the CLI's default architecture (vit_small/16) gives way to the one the checkpoint stores
      const { model, trainedSize } = await openBackbone(checkpoint, { architecture: { arch: "vit_small", patchSize: 16 } });
      try {
        expect([model.options.embedDim, model.options.depth, model.options.patchSize, model.options.convStem, trainedSize]).toEqual([
          24,
          2,
          8,
          true,
          32,
        ]);
        await model.save(join(dir, "backbone.pth"), { part: "backbone" });
      } finally {
        model.dispose();
      }
      const stored = (await readWeightGroups(checkpoint)).find(([key]) => key === "model")![1];
      const loaded = new Map((await readWeightGroups(join(dir, "backbone.pth")))[0]![1]);
      // the classifier's own: its head, and with mean pooling the norm of the pooled token
      const classifierOnly = stored.filter(([name]) => name.startsWith("head.") || name.startsWith("fc_norm.")).map(([name]) => name);
      expect(classifierOnly).toEqual(
        pooling === "mean" ? ["fc_norm.weight", "fc_norm.bias", "head.weight", "head.bias"] : ["head.weight", "head.bias"],
      );
      // every other tensor of the checkpoint is the backbone's; the backbone's others are SERE's projection heads, not fine-tuned
      for (const [name, t] of stored) if (!classifierOnly.includes(name)) expect(maxAbsDiff(loaded.get(name)!, t), name).toBe(0);
      if (pooling === "mean") return;
      // what it is not: a pretraining run's checkpoint to resume or export; the folder stays as it was
      const files = readdirSync(dir).sort();
      await expect(new Trainer({ outputDir: dir, threads: 1 }, { resume: true, progress: false }).fit()).rejects.toThrow(
        `${checkpoint} is a fine-tuning run's (sere finetune's) checkpoint, not a pretraining run's: sere finetune --resume continues it`,
      );
      expect(readdirSync(dir).sort()).toEqual(files);
      await expect(exportBackbone(checkpoint)).rejects.toThrow(`${checkpoint} is a fine-tuning run's (sere finetune's) checkpoint: export writes`);
      const unstored = [...loaded.keys()].filter((name) => !stored.some(([n]) => n === name));
      expect(unstored.length).toBeGreaterThan(0);
      expect(unstored.filter((name) => !/^(channel|pixel)_sere(_local)?\./.test(name))).toEqual([]);
    }, 60_000);
  }
});

describe("a classifier's state dict as a backbone", () => {
  it("leaves its head out; where the file has no final norm (BEiT's mean pooling), fc_norm is it", () => {
    const t = tensor(new Float32Array([1]), [1]);
    const names = (entries: Array<[string, typeof t]>) => toModelNames(entries).entries.map(([name]) => name);
    expect(
      names([
        ["blocks.0.mlp.fc1.weight", t],
        ["fc_norm.weight", t],
        ["head.weight", t],
        ["head.bias", t],
      ]),
    ).toEqual(["backbone.blocks.0.mlp.fc1.weight", "backbone.norm.weight"]);
    expect(
      names([
        ["module.norm.weight", t],
        ["module.fc_norm.weight", t],
        ["module.head.weight", t],
      ]),
    ).toEqual(["backbone.norm.weight"]);
    // a training network's head (DINO's, iBOT's) stays: it is no classifier
    expect(
      names([
        ["backbone.norm.weight", t],
        ["head.mlp.0.weight", t],
      ]),
    ).toEqual(["backbone.norm.weight", "head.mlp.0.weight"]);
    expect(
      toModelNames([
        ["blocks.0.mlp.fc1.weight", t],
        ["head.weight", t],
      ]).backboneOnly,
    ).toBe(true);
    t.dispose();
  });
});
