// Trainer.fit() on Debian's Fashion-MNIST with a tiny network: logs, checkpoints, exact
// resume, abort, export, and errors before training starts.
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { Model } from "../../src/index.js";
import { readWeightGroups } from "../../src/model/weights.js";
import { exportBackbone } from "../../src/train/export.js";
import { type StepEvent, Trainer } from "../../src/train/trainer.js";

const FASHION_MNIST = "/usr/share/datasets/fashion-mnist";
const tiny = {
  arch: "custom",
  embedDim: 24,
  depth: 2,
  numHeads: 2,
  patchSize: 8,
  outDim: 64,
  hiddenDim: 32,
  bottleneckDim: 16,
  globalCropsSize: 32,
  localCropsNumber: 2,
  localCropsSize: 16,
  overlapSize: [4, 4] as [number, number],
  batchSizePerGpu: 4,
  precision: "float32",
  dataPath: FASHION_MNIST,
  knnEval: false,
} as const satisfies Record<string, unknown>;

const run = async (outputDir: string, maxSteps: number, resume = false, signal?: AbortSignal) => {
  const trainer = new Trainer({ ...tiny, outputDir, maxSteps }, { preset: "fashion-mnist-tiny", resume, signal, progress: false });
  const steps: StepEvent[] = [];
  trainer.on("step", (e) => steps.push(e));
  const result = await trainer.fit();
  return { result, steps };
};

describe.skipIf(!existsSync(FASHION_MNIST))("Trainer", () => {
  it("trains, logs every step as JSON and writes a checkpoint", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-train-"));
    const { result, steps } = await run(dir, 3);
    expect(result.stoppedBy).toBe("maxSteps");
    expect(result.iterations).toBe(3);
    const lines = readFileSync(join(dir, "log.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as StepEvent);
    expect(lines).toHaveLength(3);
    expect(lines.map((l) => l.iteration)).toEqual([1, 2, 3]);
    for (const l of lines) {
      for (const key of ["total", "cls", "mim", "spatial", "channel", "lr", "weightDecay", "momentum", "teacherTemp", "imagesPerSecond", "rssMiB"] as const) {
        expect(Number.isFinite(l[key]), key).toBe(true);
      }
    }
    expect(steps.map((s) => s.total)).toEqual(lines.map((l) => l.total));
    // the preset has no warmup: the first step runs at the peak, lr * batch / 256
    expect(lines[0]!.lr).toBeCloseTo((1e-3 * 4) / 256, 12);
    expect(existsSync(join(dir, "checkpoint.pth"))).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, "config.json"), "utf8")).embedDim).toBe(24);
  });

  it("a resumed run's losses equal the uninterrupted run's exactly (CPU)", async () => {
    const whole = await run(mkdtempSync(join(tmpdir(), "sere-whole-")), 4);
    const dir = mkdtempSync(join(tmpdir(), "sere-split-"));
    await run(dir, 2);
    const resumed = await run(dir, 4, true);
    expect(resumed.steps.map((s) => s.iteration)).toEqual([3, 4]);
    expect(resumed.steps.map((s) => s.total)).toEqual(whole.steps.slice(2).map((s) => s.total));
  });

  it("evaluates the teacher by k-NN at the end of training and logs it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-knn-"));
    const trainer = new Trainer({ ...tiny, outputDir: dir, maxSteps: 1, knnEval: true, knnEvalLimit: 200 }, { preset: "fashion-mnist-tiny", progress: false });
    const result = await trainer.fit();
    expect(result.knn!.map((r) => r.k)).toEqual([10, 20, 100, 200]);
    for (const r of result.knn!) expect(r.top1).toBeGreaterThan(10); // 10 classes: above chance even untrained
    const last = JSON.parse(readFileSync(join(dir, "log.jsonl"), "utf8").trim().split("\n").pop()!);
    expect(last.knn).toEqual(result.knn);
  });

  it("stops at the next step when aborted, with a checkpoint", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-abort-"));
    const controller = new AbortController();
    controller.abort();
    const { result } = await run(dir, 0, false, controller.signal);
    expect(result.stoppedBy).toBe("abort");
    expect(result.iterations).toBe(1);
    expect(existsSync(join(dir, "checkpoint.pth"))).toBe(true);
  });

  it("exports the teacher backbone with reference names, loadable as a backbone", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-export-"));
    await run(dir, 1);
    const [pth, safetensors] = await exportBackbone(join(dir, "checkpoint.pth"));
    const names = (await readWeightGroups(pth!))[0]![1].map(([n, t]) => (t.dispose(), n));
    expect(names).toContain("cls_token");
    expect(names).toContain("blocks.1.attn.qkv.weight");
    expect(names.some((n) => n.startsWith("head.") || n.startsWith("backbone.") || n === "masked_embed")).toBe(false);
    const model = Model.create({ arch: "custom", embedDim: 24, depth: 2, numHeads: 2, patchSize: 8, imgSize: 32, head: false });
    await model.load(safetensors!);
    model.dispose();
  });
});

describe("Trainer errors", () => {
  it("fails before training with the field, the value and what is allowed", () => {
    expect(() => new Trainer({ batchSizePerGpu: 0 })).toThrow(/batchSizePerGpu: .* \(given: 0\)/);
    expect(() => new Trainer({ precision: "float16" })).toThrow(/precision: float16 needs a CUDA device/);
  });

  it("names a missing dataset and how to fix it", async () => {
    const trainer = new Trainer({ ...tiny, dataPath: "/nonexistent/data", outputDir: mkdtempSync(join(tmpdir(), "sere-bad-")) }, { progress: false });
    await expect(trainer.fit()).rejects.toThrow(/dataset path \/nonexistent\/data does not exist; give the folder or file of the data/);
  });
});
