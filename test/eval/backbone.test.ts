// Evaluation reads what training and export write, and reference weights: training
// checkpoints, exported backbones (.pth, .safetensors), backbones without SERE heads and
// checkpoints without a stored configuration.
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

import { openBackbone } from "../../src/eval/backbone.js";
import { Model, tensor, writeSafetensors } from "../../src/index.js";
import { readWeightGroups } from "../../src/model/weights.js";
import { native } from "../../src/native/load.js";
import type { Tensor } from "../../src/tensor.js";
import { loadBackbone, storedTrainConfig } from "../../src/train/backbone.js";
import { exportBackbone } from "../../src/train/export.js";
import { tempDir } from "../data/helpers.js";
import { maxAbsDiff } from "../model/helpers.js";
import { TINY_ARCHITECTURE, tinyStepOptions } from "../train/helpers.js";
import { TINY_RUN, tinyRun, writeImageFolder } from "./helpers.js";

const images = tensor(
  Float32Array.from({ length: 2 * 3 * 32 * 32 }, (_, i) => Math.sin(i * 0.37)),
  [2, 3, 32, 32],
);
const architecture = {
  arch: "custom",
  embedDim: TINY_RUN.embedDim,
  depth: TINY_RUN.depth,
  numHeads: TINY_RUN.numHeads,
  patchSize: TINY_RUN.patchSize,
} as const;

/** The CLS features of `model` on the test images; disposes the model. */
async function featuresOf(model: Model): Promise<Tensor> {
  try {
    return await model.features(images);
  } finally {
    model.dispose();
  }
}

it("openBackbone names a path that is no string", async () => {
  for (const [path, given] of [
    [42, "42"],
    ["", '""'],
  ] as const) {
    await expect(openBackbone(path as never)).rejects.toThrow(
      `openBackbone: the path of the weights (a checkpoint.pth, or a backbone's .pth or .safetensors file) must be a non-empty string, given ${given}`,
    );
  }
});

describe("the backbone of a weights file", () => {
  const dir = tempDir("backbones");
  const checkpoint = join(dir, "run", "checkpoint.pth");
  let teacher: Tensor; // the teacher's features, from the checkpoint and its stored configuration
  let exported: string[];

  beforeAll(async () => {
    await writeImageFolder(join(dir, "images"), 8);
    await tinyRun(join(dir, "images"), join(dir, "run"));
    teacher = await featuresOf(await loadBackbone((await storedTrainConfig(checkpoint))!, checkpoint));
    exported = await exportBackbone(checkpoint, { outputDir: join(dir, "export") });
  });

  it("README: Model.create({ ..., head: false }) then load(checkpoint.pth) gives the teacher", async () => {
    const model = Model.create({ arch: "custom", embedDim: 24, depth: 1, numHeads: 2, patchSize: 8, imgSize: 32, head: false });
    await model.load(checkpoint);
    expect(maxAbsDiff(await featuresOf(model), teacher)).toBe(0);
  });

  it("a model the weights do not fit is told the options that fit them", async () => {
    const coarser = Model.create({ arch: "custom", embedDim: 24, depth: 1, numHeads: 2, patchSize: 4, imgSize: 24, head: false });
    await expect(coarser.load(checkpoint)).rejects.toThrow(
      /wrongly-shaped keys[\s\S]*The weights fit a model made with patchSize: 8, imgSize: 32\.$/,
    );
    coarser.dispose();
    const wider = Model.create({ arch: "custom", embedDim: 48, depth: 2, numHeads: 2, patchSize: 8, imgSize: 32, head: false });
    await expect(wider.load(checkpoint)).rejects.toThrow(/The weights fit a model made with embedDim: 24, depth: 1\.$/);
    wider.dispose();
  });

  it("a training checkpoint carries its architecture; the student is the other network", async () => {
    const opened = await openBackbone(checkpoint);
    expect(opened.trainedSize).toBe(32);
    expect(maxAbsDiff(await featuresOf(opened.model), teacher)).toBe(0);
    const student = await openBackbone(checkpoint, { checkpointKey: "student" });
    expect(maxAbsDiff(await featuresOf(student.model), teacher)).toBeGreaterThan(0);
  });

  it("exported backbones (.pth and .safetensors) open with the architecture given; the checkpoint key does not apply to them", async () => {
    for (const path of exported) {
      for (const checkpointKey of ["teacher", "student"]) {
        const opened = await openBackbone(path, { architecture, checkpointKey });
        expect(opened.trainedSize).toBe(32); // from the position embedding: 4 x 4 patches of 8 px
        expect(maxAbsDiff(await featuresOf(opened.model), teacher)).toBe(0);
      }
    }
  });

  it("a DINO-style backbone (no SERE heads) opens as a backbone", async () => {
    const [[, entries]] = (await readWeightGroups(exported[0]!)) as [[string, Array<[string, Tensor]>]];
    const path = join(dir, "dino-style.safetensors");
    await writeSafetensors(
      path,
      entries.filter(([name]) => !name.includes("_sere")),
    );
    expect(entries.some(([name]) => name.startsWith("channel_sere."))).toBe(true);
    const opened = await openBackbone(path, { architecture });
    expect(maxAbsDiff(await featuresOf(opened.model), teacher)).toBe(0);
    for (const [, t] of entries) t.dispose();
  });

  it("a checkpoint without a stored configuration (as the reference writes) opens by key with the architecture given", async () => {
    const step = new (native().SereStep)(tinyStepOptions());
    const path = join(dir, "reference-style.pth");
    await step.save(path, { epoch: 1 });
    step.dispose();
    const { patchSize, imgSize, ...rest } = TINY_ARCHITECTURE;
    const full = Model.create({ ...TINY_ARCHITECTURE, head: { outDim: 32, hiddenDim: 16, bottleneckDim: 8, normLastLayer: false } });
    await full.load(path);
    const small = tensor(
      Float32Array.from({ length: 3 * imgSize * imgSize }, (_, i) => Math.cos(i)),
      [1, 3, imgSize, imgSize],
    );
    const expected = await full.features(small);
    full.dispose();
    for (const checkpointKey of ["teacher", "student"]) {
      const opened = await openBackbone(path, { architecture: { ...rest, patchSize }, checkpointKey }); // the student's masked_embed is not wanted
      expect(opened.trainedSize).toBe(imgSize);
      const features = await opened.model.features(small);
      opened.model.dispose();
      if (checkpointKey === "teacher") expect(maxAbsDiff(features, expected)).toBe(0);
    }
    await expect(openBackbone(path, { architecture, checkpointKey: "ema" })).rejects.toThrow(
      /has no state dict under "ema"; it has "student", "teacher"/,
    );
  });

  it("names what is missing or wrong when the file stores no architecture", async () => {
    await expect(openBackbone(exported[1]!, { architecture: { arch: "custom", patchSize: 8 } })).rejects.toThrow(
      /stores no architecture, and arch "custom" needs embedDim, depth and numHeads \(--embed-dim, --depth, --num-heads\)/,
    );
    // width and depth are in the weights' shapes: what to give is said, the heads' count asked for
    await expect(openBackbone(exported[1]!, { architecture: { ...architecture, depth: 2 } })).rejects.toThrow(
      `${exported[1]} stores no architecture, so it was read as --arch custom --embed-dim 24 --depth 2 --num-heads 2 --patch-size 8, ` +
        "but its weights are 24 wide in 1 block: give --arch custom --embed-dim 24 --depth 1 --num-heads N (the heads are in no tensor's shape: give the trained count)",
    );
    await expect(openBackbone(exported[1]!)).rejects.toThrow(
      /so it was read as --arch vit_small --patch-size 8, but its weights are 24 wide in 1 block/,
    );
    // the patch size is in the weights' shapes: a wrong one given is overridden
    const opened = await openBackbone(exported[1]!, { architecture: { ...architecture, patchSize: 4 } });
    expect(opened.model.options.patchSize).toBe(8);
    expect(maxAbsDiff(await featuresOf(opened.model), teacher)).toBe(0);
    // the width and depth fit, the MLP's width not: the tensors that do not fit are listed
    await expect(openBackbone(exported[1]!, { architecture: { ...architecture, mlpRatio: 2 } })).rejects.toThrow(
      /wrongly-shaped keys .*backbone\.blocks\.0\.mlp\.fc1\.weight[\s\S]*stores no architecture, so it was read as --arch custom --embed-dim 24 --depth 1 --num-heads 2 --patch-size 8 --mlp-ratio 2: give the one it was trained with/,
    );
  });
});

describe("the backbone of a run with a convolutional stem", () => {
  const dir = tempDir("conv-stem-backbones");
  const checkpoint = join(dir, "run", "checkpoint.pth");

  beforeAll(async () => {
    await writeImageFolder(join(dir, "images"), 8);
    await tinyRun(join(dir, "images"), join(dir, "run"), { convStem: true });
  });

  it("its checkpoint and exported backbones open as a stem, its patch size read from the stem's stages", async () => {
    const config = (await storedTrainConfig(checkpoint))!;
    expect(config.convStem).toBe(true);
    const teacher = await featuresOf((await openBackbone(checkpoint)).model);
    for (const path of await exportBackbone(checkpoint, { outputDir: join(dir, "export") })) {
      // --patch-size 16 is the CLI's default for files without an architecture: the stem's 3 stages say 8
      const opened = await openBackbone(path, { architecture: { ...architecture, patchSize: 16 } });
      expect(opened.model.options).toMatchObject({ convStem: true, patchSize: 8 });
      expect(opened.trainedSize).toBe(32);
      expect(maxAbsDiff(await featuresOf(opened.model), teacher)).toBe(0);
    }
  });

  it("a backbone without a stem refuses the stem's weights, naming them", async () => {
    const model = Model.create({ ...architecture, imgSize: 32, head: false });
    await expect(model.load(checkpoint)).rejects.toThrow(
      /backbone\.patch_embed\.(convs|norms|proj)[\s\S]*The weights fit a model made with convStem: true\.$/,
    );
    model.dispose();
  });
});
