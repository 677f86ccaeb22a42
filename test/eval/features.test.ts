// Feature extraction: which tokens make the vector, the augmented training crops, and what an
// embed function and limits must be.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { type Dataset, spreadSubset } from "../../src/data/datasets/dataset.js";
import { clsFeatures, type Embed, extractFeatures, pixelFeatures } from "../../src/eval/features.js";
import { knnEvaluation } from "../../src/eval/knn-eval.js";
import { Model, tensor } from "../../src/index.js";
import { fakeDataset, tempDir } from "../data/helpers.js";
import { writeImageFolder } from "./helpers.js";

const model = () => Model.create({ arch: "custom", embedDim: 12, depth: 3, numHeads: 2, patchSize: 4, imgSize: 16, head: false, seed: 3 });
const images = () =>
  tensor(
    Float32Array.from({ length: 2 * 3 * 16 * 16 }, (_, i) => Math.cos(i * 0.11)),
    [2, 3, 16, 16],
  );
const rows = (t: { toArray(): unknown; shape(): number[] }) => {
  const values = t.toArray() as Float32Array;
  const width = t
    .shape()
    .slice(1)
    .reduce((a, b) => a * b, 1);
  return Array.from({ length: t.shape()[0]! }, (_, b) => Array.from(values.subarray(b * width, (b + 1) * width)));
};

describe("features", () => {
  it("the last n blocks' CLS tokens and the mean patch token, concatenated in that order", async () => {
    const m = model();
    const x = images();
    const features = await clsFeatures(m, { nLastBlocks: 2, avgpoolPatchtokens: true })(x);
    expect(features.shape()).toEqual([2, 3 * 12]);
    const blocks = await m.intermediateLayers(x, 2);
    const [b1, b2] = blocks.map((t) => rows(t)); // (1 + 16 tokens) * 12 values per image
    const last = rows(await m.features(x)); // the ordinary CLS feature: the last block's
    for (const [b, row] of rows(features).entries()) {
      const expected = [...b1![b]!.slice(0, 12), ...b2![b]!.slice(0, 12)];
      for (let d = 0; d < 12; d++) {
        let mean = 0;
        for (let t = 1; t <= 16; t++) mean += b2![b]![t * 12 + d]! / 16;
        expected.push(mean);
      }
      row.forEach((v, i) => {
        expect(v).toBeCloseTo(expected[i]!, 5);
      });
      row.slice(12, 24).forEach((v, i) => {
        expect(v).toBeCloseTo(last[b]![i]!, 5);
      });
    }
    m.dispose();
  });

  it("augmented training crops are seeded per view and image, and differ from the centre crop", async () => {
    // a 20 x 20 ramp image per index
    const dataset: Dataset = {
      ...fakeDataset("ramps", 3, async (i: number) => ({
        width: 20,
        height: 20,
        data: Uint8Array.from({ length: 20 * 20 * 3 }, (_, p) => (p * (i + 1)) % 251),
      })),
      classes: ["a"],
      label: () => 0,
    };
    const m = model();
    const embed = clsFeatures(m);
    const of = async (augment?: { seed: number; view: number }) => rows((await extractFeatures(dataset, embed, { size: 16, augment })).features);
    const centre = await of();
    const view0 = await of({ seed: 1, view: 0 });
    expect(await of({ seed: 1, view: 0 })).toEqual(view0); // reproducible
    expect(await of({ seed: 1, view: 1 })).not.toEqual(view0); // another view
    expect(view0).not.toEqual(centre);
    m.dispose();
  });

  it("a limit takes images spread over the dataset: every class of a folder in class order", async () => {
    expect([spreadSubset(10, 4), spreadSubset(3, 5), spreadSubset(3)]).toEqual([
      [0, 2, 5, 7],
      [0, 1, 2],
      [0, 1, 2],
    ]);
    // 12 images of 3 classes in class order; a limit of 3 used to give class 0's alone
    const dataset = {
      ...fakeDataset("sorted", 12, async () => ({ width: 8, height: 8, data: new Uint8Array(8 * 8 * 3) })),
      classes: ["a", "b", "c"],
      label: (i: number) => Math.floor(i / 4),
    };
    const { labels } = await extractFeatures(dataset, pixelFeatures, { size: 8, limit: 3 });
    expect(Array.from(labels.toArray() as BigInt64Array, Number)).toEqual([0, 1, 2]);
  });
});

describe("what extraction asks of the embed function and the limits", () => {
  const dataset = fakeDataset("gray", 5, async (i: number) => ({ width: 8, height: 8, data: new Uint8Array(8 * 8 * 3).fill(50 * i) }));
  const extract = (embed: Embed, limit?: number) => extractFeatures(dataset, embed, { size: 8, batchSize: 2, limit });

  it("names what the embed function returned where it is no (B, D) tensor of floats", async () => {
    await expect(extract(async () => new Float32Array(4) as never)).rejects.toThrow(
      "the embed function must return a Tensor (2, D) of floats for a batch of 2 images: one feature row per image; it returned Float32Array",
    );
    await expect(extract(async () => tensor(new Float32Array(3 * 4), [3, 4]))).rejects.toThrow("it returned one of shape [3, 4]");
    await expect(extract(async (images) => images)).rejects.toThrow("it returned one of shape [2, 3, 8, 8]");
    await expect(extract(async () => tensor(new BigInt64Array(2), [2, 1]))).rejects.toThrow("it returned int64 values");
    // a width that changes from one batch to the next
    let width = 3;
    await expect(extract(async (images) => tensor(new Float32Array(images.shape()[0]! * width++), [images.shape()[0]!, width - 1]))).rejects.toThrow(
      "the embed function must return a Tensor (2, 3) of floats for a batch of 2 images: one feature row per image (the batches before were 3 wide); it returned one of shape [2, 4]",
    );
  });

  it("a limit of 0 is all the images, as the CLI's --limit 0; a negative one is refused", async () => {
    expect((await extract(pixelFeatures, 0)).features.shape()).toEqual([5, 3 * 8 * 8]);
    expect((await extract(pixelFeatures, 2)).features.shape()).toEqual([2, 3 * 8 * 8]);
    await expect(extract(pixelFeatures, -1)).rejects.toThrow(/invalid feature options:\n {2}limit: Too small/);
  });

  describe("knnEvaluation", () => {
    const root = tempDir("knn-limits");
    const ready = (async () => {
      for (const split of ["train", "test"]) mkdirSync(join(root, split));
      await writeImageFolder(join(root, "train"), 6);
      await writeImageFolder(join(root, "test"), 4);
    })();
    const options = { size: 8, ks: [1], device: "cpu" };

    it("takes a trainLimit or testLimit of 0 as all the split's images, and refuses a negative one", async () => {
      await ready;
      const all = await knnEvaluation(root, pixelFeatures, options);
      expect(await knnEvaluation(root, pixelFeatures, { ...options, trainLimit: 0, testLimit: 0 })).toEqual(all);
      await expect(knnEvaluation(root, pixelFeatures, { ...options, testLimit: -1 })).rejects.toThrow(/testLimit: Too small/);
      await expect(knnEvaluation(root, pixelFeatures, { ...options, trainLimit: -3 })).rejects.toThrow(/trainLimit: Too small/);
    });

    it("refuses features of NaN rather than reporting an accuracy", async () => {
      await ready;
      const nan: Embed = async (images) => tensor(new Float32Array(images.shape()[0]! * 4).fill(Number.NaN), [images.shape()[0]!, 4]);
      await expect(knnEvaluation(root, nan, options)).rejects.toThrow(
        "k-NN: 6 of 6 training feature rows hold NaN or infinite values (the first: row 0)",
      );
    });
  });
});
