// Evaluations report progress and stop on an AbortSignal: feature extraction before its
// next batch, the linear probe within one optimiser step; `sere` stops on Ctrl-C with 130.
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import type { Dataset } from "../../src/data/datasets/dataset.js";
import { type Embed, extractFeatures } from "../../src/eval/features.js";
import { knnEvaluation } from "../../src/eval/knn-eval.js";
import { linearProbe } from "../../src/eval/linear-probe.js";
import { tensor } from "../../src/index.js";
import { exportBackbone } from "../../src/train/export.js";
import { fakeDataset } from "../data/helpers.js";
import { tinyRun, writeImageFolder } from "./helpers.js";

/** `size` 20 x 20 gray images; embedded as their mean pixel. */
const dataset = (size: number): Dataset => ({
  ...fakeDataset("gray", size, async (i: number) => ({ width: 20, height: 20, data: new Uint8Array(20 * 20 * 3).fill(i % 256) })),
  classes: ["a"],
  label: () => 0,
});
const meanPixel: Embed = async (images) => {
  const [batch] = images.shape();
  const values = images.toArray() as Float32Array;
  const per = values.length / batch!;
  return tensor(
    Float32Array.from({ length: batch! }, (_, b) => values.subarray(b * per, (b + 1) * per).reduce((a, v) => a + v, 0) / per),
    [batch!, 1],
  );
};

describe("stopping and progress of evaluations", () => {
  it("extractFeatures reports each batch and stops before the next once aborted", async () => {
    const controller = new AbortController();
    const seen: Array<[number, number]> = [];
    const extraction = extractFeatures(dataset(40), meanPixel, {
      size: 16,
      batchSize: 8,
      signal: controller.signal,
      onProgress: (done, total) => {
        seen.push([done, total]);
        if (done === 16) controller.abort();
      },
    });
    await expect(extraction).rejects.toThrow(expect.objectContaining({ name: "AbortError" }));
    expect(seen).toEqual([
      [0, 40],
      [8, 40],
      [16, 40],
    ]);
  });

  it("knnEvaluation refuses to start on an aborted signal", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-stop-"));
    await writeImageFolder(join(dir, "train"), 4);
    await writeImageFolder(join(dir, "val"), 4);
    await expect(knnEvaluation(dir, meanPixel, { size: 16, ks: [1], signal: AbortSignal.abort() })).rejects.toThrow(
      expect.objectContaining({ name: "AbortError" }),
    );
  });

  it("the linear probe reports epochs and stops within a step of the abort", async () => {
    const features = tensor(
      Float32Array.from({ length: 2000 * 16 }, (_, i) => Math.sin(i)),
      [2000, 16],
    );
    const labels = tensor(
      BigInt64Array.from({ length: 2000 }, (_, i) => BigInt(i % 4)),
      [2000],
    );
    const controller = new AbortController();
    const seen: number[] = [];
    let abortedAt = 0;
    const probe = linearProbe(
      { features, labels },
      { features, labels },
      {
        lrs: [0.1, 0.01],
        epochs: 1_000_000, // hours, unless stopped
        batchSize: 16,
        signal: controller.signal,
        progressEveryMs: 20,
        onProgress: (done, total) => {
          seen.push(done);
          expect(total).toBe(2_000_000);
          if (done >= 2 && !controller.signal.aborted) {
            controller.abort();
            abortedAt = performance.now();
          }
        },
      },
    );
    await expect(probe).rejects.toThrow(expect.objectContaining({ name: "AbortError" }));
    expect(performance.now() - abortedAt).toBeLessThan(1000);
    expect(seen[0]).toBe(0);
    expect(Math.max(...seen)).toBeGreaterThanOrEqual(2);
    await expect(linearProbe({ features, labels }, { features, labels }, { signal: AbortSignal.abort() })).rejects.toThrow(
      expect.objectContaining({ name: "AbortError" }),
    );
    for (const t of [features, labels]) t.dispose();
  });

  it("sere eval linear shows progress on stderr and stops on Ctrl-C with exit code 130", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-ctrl-c-"));
    await writeImageFolder(join(dir, "data", "train"), 8);
    await writeImageFolder(join(dir, "data", "val"), 8);
    await tinyRun(join(dir, "data", "train"), join(dir, "run"));
    const backbone = (await exportBackbone(join(dir, "run", "checkpoint.pth"), { outputDir: join(dir, "export") }))[0]!;
    const args = [
      "eval",
      "linear",
      "--pretrained-weights",
      backbone,
      "--arch",
      "custom",
      "--embed-dim",
      "24",
      "--depth",
      "1",
      "--num-heads",
      "2",
      "--patch-size",
      "8",
    ];
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "src/cli/sere.ts", ...args, "--data-path", join(dir, "data"), "--epochs", "10000000", "--lrs", "0.1"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    let signalled = 0;
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (/linear probe: [1-9]\d*\//.test(stderr) && !signalled) {
        signalled = performance.now();
        child.kill("SIGINT");
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code, stderr).toBe(130);
    expect(performance.now() - signalled).toBeLessThan(5000);
    expect(stderr).toMatch(/training features, view 1\/4: 8\/8 images/);
    expect(stderr).toMatch(/test features: 8\/8 images/);
    expect(stderr).toContain("sere eval linear: stopped (Ctrl-C)");
  });
});
