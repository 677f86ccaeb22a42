// Fine-tuning on a folder with broken files: each skipped with a warning up to
// --max-failure-share of an epoch's images, past it the run stops naming the files and the fix.
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { Finetuner } from "../../src/finetune/finetuner.js";
import { tempDir, writeFolderWithBadFiles } from "../data/helpers.js";

const TINY = {
  arch: "custom",
  embedDim: 12,
  depth: 1,
  numHeads: 2,
  patchSize: 8,
  inputSize: 16,
  epochs: 1,
  warmupEpochs: 0,
  batchSizePerGpu: 4,
  threads: 1,
} as const;

describe("fine-tuning on images that cannot be decoded", () => {
  it("skips them with a warning within the allowed share, and stops past it naming the files and the flag", async () => {
    const root = tempDir("sere-finetune-bad-");
    // The test split holds broken files too: the test accuracy skips them within the share.
    const { bad } = await writeFolderWithBadFiles(join(root, "data", "train"));
    await writeFolderWithBadFiles(join(root, "data", "test"));
    const warnings: string[] = [];
    const listen = (w: Error) => warnings.push(w.message);
    process.on("warning", listen);
    try {
      // 9 files, 2 steps of 4: 8 images an epoch, 3 of them broken
      const result = await new Finetuner({ ...TINY, dataPath: join(root, "data"), maxFailureShare: 0.5, outputDir: join(root, "ok") }).fit();
      expect(result.steps).toBe(2);
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      expect(warnings.join("\n")).toMatch(/cannot be decoded/);
    } finally {
      process.off("warning", listen);
    }
    await expect(new Finetuner({ ...TINY, dataPath: join(root, "data"), outputDir: join(root, "stopped") }).fit()).rejects.toThrow(
      new RegExp(
        `more than 1% of this epoch's 8 images failed to decode .*(${bad.map((f) => f.replace(/[.]/g, "\\.")).join("|")}) \\(.*\\)\\); fix or remove the broken files, or raise the share allowed \\(--max-failure-share; maxFailureShare from code\\)`,
      ),
    );
  }, 60_000);
});
