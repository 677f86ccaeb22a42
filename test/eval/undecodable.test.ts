// Images that cannot be decoded, in evaluation as in training: skipped and named, with
// too many failures (or no image at all) an error naming the data.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { openDataset } from "../../src/data/datasets/open.js";
import { Loader } from "../../src/data/loader.js";
import { extractFeatures, pixelFeatures } from "../../src/eval/features.js";
import { SMALL_VIEWS, tempDir, writeFolderWithBadFiles } from "../data/helpers.js";
import { tinyRun, writeImageFolder } from "./helpers.js";

/** A folder of files none of which is an image. */
function writeOnlyBadFiles(root: string): void {
  writeFileSync(join(root, "empty.jpg"), Buffer.alloc(0));
  writeFileSync(join(root, "notes.png"), "these are notes, not a picture\n");
  writeFileSync(join(root, "zeros.jpg"), Buffer.alloc(64));
  writeFileSync(join(root, "half.webp"), "RIFF");
}

describe("feature extraction with undecodable images", () => {
  it("skips them, names each in one warning and keeps the labels of the others", async () => {
    const root = tempDir("eval-bad");
    const { good, bad } = await writeFolderWithBadFiles(root);
    const data = openDataset(root);
    const warnings: string[] = [];
    const { features, labels, skipped } = await extractFeatures(data, pixelFeatures, {
      size: 16,
      batchSize: 4,
      maxFailureShare: 0.5,
      warn: (m) => warnings.push(m),
    });
    expect(features.shape()).toEqual([good, 3 * 16 * 16]);
    const decodable = Array.from({ length: data.size }, (_, i) => i).filter((i) => !bad.includes(data.describe(i)));
    expect(Array.from(labels.toArray() as BigInt64Array, Number)).toEqual(decodable.map((i) => data.label(i)));
    expect([...skipped].sort()).toEqual([...bad].sort());
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^skipped 3 of 9 images that cannot be decoded: /);
    for (const file of bad) expect(warnings[0]).toContain(file);
  });

  it("stops beyond the allowed share, and when not one image decodes", async () => {
    const root = tempDir("eval-bad-share");
    await writeFolderWithBadFiles(root);
    const options = { size: 16, warn: () => {} };
    await expect(extractFeatures(openDataset(root), pixelFeatures, { ...options, maxFailureShare: 0.2 })).rejects.toThrow(
      /more than 20% of the 9 images failed to decode .*raise the share allowed \(--max-failure-share; maxFailureShare from code\)/,
    );
    const none = tempDir("eval-none");
    writeOnlyBadFiles(none);
    await expect(extractFeatures(openDataset(none), pixelFeatures, { ...options, maxFailureShare: 1 })).rejects.toThrow(
      new RegExp(`not one image under ${none} could be decoded: all 4 of the images failed`),
    );
  });
});

describe("training with undecodable images", () => {
  it("the end-of-training k-NN skips an image that cannot be decoded, with a warning naming it", async () => {
    const root = tempDir("knn-bad");
    await writeImageFolder(join(root, "train"), 200);
    await writeImageFolder(join(root, "test"), 20);
    writeFileSync(join(root, "train", "a", "empty.jpg"), Buffer.alloc(0));
    const { result, warnings } = await tinyRun(root, tempDir("knn-bad-run"), { knnEval: true });
    expect(result.knn!.map((r) => r.k)).toEqual([10, 20, 100, 200]);
    expect(
      warnings.some((w) => w.startsWith("skipped 1 of 201 images that cannot be decoded") && w.includes(join(root, "train", "a", "empty.jpg"))),
    ).toBe(true);
  });

  it("a folder where not one image decodes is an error naming it, even when every failure is allowed", async () => {
    const root = tempDir("train-none");
    writeOnlyBadFiles(root);
    const loader = new Loader(openDataset(root), { batchSize: 2, views: SMALL_VIEWS, maxFailureShare: 1 }, { warn: () => {} });
    const batches = async () => {
      for await (const b of loader.epoch(0)) b.dispose();
    };
    await expect(batches()).rejects.toThrow(new RegExp(`not one image under ${root} could be decoded: all 4 of this epoch's images failed`));
    await expect(tinyRun(root, tempDir("train-none-run"), { batchSizePerGpu: 2, maxFailureShare: 1 })).rejects.toThrow(
      new RegExp(`not one image under ${root} could be decoded`),
    );
  });
});
