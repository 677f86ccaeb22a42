// Trainer.fit() on Debian's Fashion-MNIST with a tiny network: logs, checkpoints, exact
// resume, abort, export, and errors before training starts.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { availableParallelism, hostname, tmpdir } from "node:os";
import { isAbsolute, join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { PRESETS } from "../../src/config/presets.js";
import type { TrainConfigInput } from "../../src/config/train.js";
import { Model } from "../../src/index.js";
import { readWeightGroups } from "../../src/model/weights.js";
import { exportBackbone } from "../../src/train/export.js";
import type { RunPlan } from "../../src/train/plan.js";
import { type EpochEvent, type StepEvent, Trainer } from "../../src/train/trainer.js";
import { tempDir, writeIdx, writePng } from "../data/helpers.js";
import { tinyRun, writeImageFolder } from "../eval/helpers.js";
import { hasFashionMnist } from "../requirements.js";
import { TINY_RUN } from "./helpers.js";

const FASHION_MNIST = "/usr/share/datasets/fashion-mnist";
const tiny = { ...TINY_RUN, depth: 2, dataPath: FASHION_MNIST, maxSteps: 0 } as const;

const run = async (outputDir: string, maxSteps: number, resume = false, signal?: AbortSignal, config: TrainConfigInput = {}) => {
  const trainer = new Trainer({ ...tiny, outputDir, maxSteps, ...config }, { preset: "fashion-mnist-tiny", resume, signal, progress: false });
  const steps: StepEvent[] = [];
  const epochs: EpochEvent[] = [];
  const warnings: string[] = [];
  const plans: RunPlan[] = [];
  trainer.on("start", (p) => plans.push(p));
  trainer.on("step", (e) => steps.push(e));
  trainer.on("epoch", (e) => epochs.push(e));
  trainer.on("warning", (w) => warnings.push(w));
  const result = await trainer.fit();
  return { result, steps, epochs, warnings, plans };
};
const logged = (dir: string) =>
  readFileSync(join(dir, "log.jsonl"), "utf8")
    .trim()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as StepEvent);

describe.runIf(hasFashionMnist())("Trainer", () => {
  it("trains, logs every step as JSON and writes a checkpoint", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-train-"));
    const { result, steps, plans } = await run(dir, 3);
    // announced once, before the first step: 60,000 images in batches of 4
    expect(plans).toHaveLength(1);
    expect(plans[0]).toMatchObject({ images: 60_000, batchSize: 4, worldSize: 1, stepsPerEpoch: 15_000, lastStep: 3, startStep: 0, device: "cpu" });
    expect(result.stoppedBy).toBe("maxSteps");
    expect(result.iterations).toBe(3);
    const lines = readFileSync(join(dir, "log.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as StepEvent);
    expect(lines).toHaveLength(3);
    expect(lines.map((l) => l.iteration)).toEqual([1, 2, 3]);
    for (const l of lines) {
      for (const key of [
        "total",
        "cls",
        "mim",
        "spatial",
        "channel",
        "lr",
        "weightDecay",
        "momentum",
        "teacherTemp",
        "imagesPerSecond",
        "rssMiB",
      ] as const) {
        expect(Number.isFinite(l[key]), key).toBe(true);
      }
    }
    expect(steps.map((s) => s.total)).toEqual(lines.map((l) => l.total));
    // the preset warms up over a tenth of an epoch (1,500 of 15,000 iterations of 4 images),
    // linearly from 0 to the peak, lr * batch / 256
    const peak = (2.12e-3 * 4) / 256;
    lines.forEach((l, i) => {
      expect(l.lr).toBeCloseTo((peak * i) / (1500 - 1), 15);
    });
    expect(existsSync(join(dir, "checkpoint.pth"))).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, "config.json"), "utf8")).embedDim).toBe(24);
  });

  it("a resumed run's losses equal the uninterrupted run's exactly (CPU), and its log holds each step once", async () => {
    const whole = await run(mkdtempSync(join(tmpdir(), "sere-whole-")), 4);
    const dir = mkdtempSync(join(tmpdir(), "sere-split-"));
    await run(dir, 2);
    // as a run killed after step 3, before its next checkpoint, and during a write, leaves it
    const log = join(dir, "log.jsonl");
    writeFileSync(log, `${JSON.stringify({ ...logged(dir)[1]!, iteration: 3 })}\n{"epoch": 0, "itera`, { flag: "a" });
    writeFileSync(join(dir, "checkpoint.pth.partial"), "torn");
    const resumed = await run(dir, 4, true);
    expect(resumed.steps.map((s) => s.iteration)).toEqual([3, 4]);
    expect(resumed.plans.map((p) => [p.startStep, p.lastStep])).toEqual([[2, 4]]);
    expect(resumed.steps.map((s) => s.total)).toEqual(whole.steps.slice(2).map((s) => s.total));
    expect(logged(dir).map((l) => l.iteration)).toEqual([1, 2, 3, 4]);
    expect(
      logged(dir)
        .slice(2)
        .map((l) => l.total),
    ).toEqual(whole.steps.slice(2).map((s) => s.total));
    expect(existsSync(join(dir, "checkpoint.pth.partial"))).toBe(false);
  });

  it("a new run refuses a folder holding an earlier run, before any work; --overwrite starts it anew", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-taken-"));
    await run(dir, 1);
    const before = [readFileSync(join(dir, "log.jsonl")), readFileSync(join(dir, "checkpoint.pth")), readFileSync(join(dir, "config.json"))];
    await expect(run(dir, 2, false, undefined, { embedDim: 32 })).rejects.toThrow(
      /the output folder .* holds an earlier run \(checkpoint\.pth, log\.jsonl\): continue it with resume: true, start anew with overwrite: true \(deletes those files\), or give another outputDir$/,
    );
    expect([readFileSync(join(dir, "log.jsonl")), readFileSync(join(dir, "checkpoint.pth")), readFileSync(join(dir, "config.json"))]).toEqual(before);
    const anew = await run(dir, 2, false, undefined, { overwrite: true });
    expect(anew.steps.map((s) => s.iteration)).toEqual([1, 2]);
    expect(logged(dir).map((l) => l.iteration)).toEqual([1, 2]);
  });

  it("says when threads asks for more threads than the machine has cores, naming the field as code sets it", async () => {
    const cores = availableParallelism();
    const over = await run(mkdtempSync(join(tmpdir(), "sere-threads-")), 1, false, undefined, { threads: cores + 1 });
    expect(over.warnings).toContain(
      `threads: ${cores + 1} is more than this machine's ${cores} cores: each step will be slower than with ${cores} (threads: 0 picks that)`,
    );
    expect(over.plans[0]!.threads).toBe(cores + 1);
    const fitting = await run(mkdtempSync(join(tmpdir(), "sere-threads-")), 1, false, undefined, { threads: cores });
    expect(fitting.warnings.filter((w) => w.includes("threads"))).toEqual([]);
  });

  it("--resume without a checkpoint says so and starts a new run; at --max-steps already, it runs no step", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-resume-none-"));
    const fresh = await run(dir, 1, true);
    expect(fresh.warnings).toContain(`resume: true finds no checkpoint in ${dir}: starting a new run`);
    expect(fresh.result.iterations).toBe(1);
    const done = await run(dir, 1, true);
    expect(done.steps).toEqual([]);
    expect(done.result).toMatchObject({ iterations: 1, stoppedBy: "maxSteps" });
    expect(done.warnings).toContain(`${join(dir, "checkpoint.pth")} is at step 1, and maxSteps is 1: nothing to train (raise maxSteps to go on)`);
    expect(logged(dir).map((l) => l.iteration)).toEqual([1]);
  });

  it("a run finished by its epochs, resumed, has nothing to train and says so", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-resume-finished-"));
    await writeImageFolder(join(dir, "images"), 8);
    const first = await tinyRun(join(dir, "images"), join(dir, "run"), { maxSteps: 0, epochs: 2 });
    expect(first.result).toMatchObject({ iterations: 4, stoppedBy: "done" });
    const trainer = new Trainer({ outputDir: join(dir, "run") }, { resume: true, progress: false });
    const warnings: string[] = [];
    const steps: StepEvent[] = [];
    trainer.on("warning", (w) => warnings.push(w));
    trainer.on("step", (e) => steps.push(e));
    expect(await trainer.fit()).toMatchObject({ iterations: 4, stoppedBy: "done" });
    expect(steps).toEqual([]);
    expect(warnings).toEqual([
      `${join(dir, "run", "checkpoint.pth")} is at step 4, the end of the run's 2 epochs: nothing to train (raise epochs to go on)`,
    ]);
  });

  it("resumed with batches its checkpoint's place in the epoch does not fit, names the settings that changed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-resume-batches-"));
    await writeImageFolder(join(dir, "images"), 12);
    await tinyRun(join(dir, "images"), join(dir, "run"), { maxSteps: 2 }); // two steps of three an epoch
    const resumed = new Trainer({ outputDir: join(dir, "run"), batchSizePerGpu: 8, maxSteps: 3 }, { resume: true, progress: false });
    await expect(resumed.fit()).rejects.toThrow(
      /: its place in the epoch does not fit this run's batches, whose settings differ from the checkpoint's run: batchSizePerGpu 8 \(the checkpoint's run: 4\); resume with the checkpoint's settings/,
    );
  });

  it("says that knnEvalEvery does nothing without knnEval", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-knn-every-"));
    await writeImageFolder(join(dir, "images"), 8);
    const { warnings } = await tinyRun(join(dir, "images"), join(dir, "run"), { knnEvalEvery: 1 });
    expect(warnings).toContain("knnEvalEvery: 1 does nothing with knnEval: false: the run makes no k-NN evaluation");
  });

  it("keeps the data's absolute path in config.json, so that --resume from another folder finds the same data", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-data-path-"));
    await writeImageFolder(join(dir, "images"), 8);
    const given = relative(process.cwd(), join(dir, "images"));
    expect(isAbsolute(given)).toBe(false);
    const { result } = await tinyRun(given, join(dir, "run"));
    expect(result.config.dataPath).toBe(join(dir, "images"));
    expect(JSON.parse(readFileSync(join(dir, "run", "config.json"), "utf8")).dataPath).toBe(join(dir, "images"));
  });

  it("--resume continues the run with the settings it was started with, but for when this invocation stops", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-resume-own-"));
    const started = await run(dir, 1, false, undefined, { lr: 1e-3, seed: 3, batchSizePerGpu: 4 });
    // only the folder and a step limit: the preset's data, network and recipe would differ from the run's
    const trainer = new Trainer({ outputDir: dir, maxSteps: 2 }, { resume: true, progress: false });
    expect(trainer.config).toEqual({ ...started.result.config, maxSteps: 2, maxMinutes: PRESETS["fashion-mnist-tiny"].maxMinutes });
    const warnings: string[] = [];
    trainer.on("warning", (w) => warnings.push(w));
    expect((await trainer.fit()).iterations).toBe(2);
    expect(warnings).toEqual([]);
    // without --resume a folder's config.json is no part of a run's settings
    expect(new Trainer({ outputDir: dir }).config.lr).toBe(PRESETS["fashion-mnist-tiny"].lr);
  });

  it("a resumed run names the settings it changes: a network of another shape is refused, config.json kept; a new recipe is said", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-resume-changed-"));
    await run(dir, 1, false, undefined, { tensorboard: true });
    const config = readFileSync(join(dir, "config.json"), "utf8");
    const files = readdirSync(dir).sort();
    await expect(run(dir, 2, true, undefined, { embedDim: 48, maxMinutes: 5, tensorboard: true })).rejects.toThrow(
      `cannot resume from ${join(dir, "checkpoint.pth")}: its network does not match this run's, whose settings differ from the checkpoint's run: ` +
        `embedDim 48 (the checkpoint's run: ${tiny.embedDim}); resume with the checkpoint's settings.`,
    );
    expect(readFileSync(join(dir, "config.json"), "utf8")).toBe(config);
    expect(readdirSync(dir).sort()).toEqual(files); // no second TensorBoard file either
    // the process's own settings (here --max-minutes, --threads) change without a word
    const resumed = await run(dir, 2, true, undefined, { lr: 1e-3, maxMinutes: 5, threads: 1 });
    expect(resumed.warnings.filter((w) => w.includes("differ"))).toEqual([
      `resuming with settings that differ from the checkpoint's run: lr 0.001 (the checkpoint's run: ${JSON.parse(config).lr}); the run goes on with them after step 1, its schedules too`,
    ]);
    expect(resumed.steps.map((s) => s.iteration)).toEqual([2]);
    expect(JSON.parse(readFileSync(join(dir, "config.json"), "utf8"))).toMatchObject({ lr: 1e-3, maxMinutes: 5 });
  });

  it("a stop during a k-NN evaluation within the run ends the run at the checkpoint it measured", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-knn-stop-"));
    const controller = new AbortController();
    const trainer = new Trainer(
      { ...tiny, outputDir: dir, maxSteps: 3, knnEval: true, knnEvalEvery: 1 },
      { preset: "fashion-mnist-tiny", progress: false, signal: controller.signal },
    );
    // the k-NN of the whole dataset (70,000 images) runs far longer than the 2 s before the stop
    let stopAsked = 0;
    trainer.on("step", () => {
      setTimeout(() => {
        stopAsked = performance.now();
        controller.abort();
      }, 2000);
    });
    const result = await trainer.fit();
    expect(performance.now() - stopAsked).toBeLessThan(10_000);
    expect(result).toMatchObject({ iterations: 1, stoppedBy: "abort", lastCheckpoint: join(dir, "checkpoint.pth") });
    expect(result.knn).toBeUndefined();
    expect(logged(dir).map((l) => l.iteration)).toEqual([1]);
  }, 60_000);

  it("a checkpoint that cannot be read is refused for --resume, pointing to the run's latest epoch checkpoint", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-resume-corrupt-"));
    await run(dir, 1);
    const checkpoint = join(dir, "checkpoint.pth");
    copyFileSync(checkpoint, join(dir, "checkpoint0001.pth"));
    copyFileSync(checkpoint, join(dir, "checkpoint0002.pth"));
    truncateSync(checkpoint, 1000); // a copy cut short
    await expect(run(dir, 2, true)).rejects.toThrow(
      new RegExp(
        `^cannot resume from ${checkpoint}: ${checkpoint} is not a whole torch\\.save file .*\\. To go on from the run's latest saved epoch, ` +
          `copy ${join(dir, "checkpoint0002.pth")} to ${checkpoint}\\. Start a new run with another outputDir, or here with overwrite: true instead of resume: true\\.$`,
      ),
    );
  });

  it("evaluates the teacher by k-NN at the end of training and logs it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-knn-"));
    const trainer = new Trainer(
      { ...tiny, outputDir: dir, maxSteps: 1, knnEval: true, knnEvalLimit: 200 },
      { preset: "fashion-mnist-tiny", progress: false },
    );
    const result = await trainer.fit();
    expect(result.knn!.map((r) => r.k)).toEqual([10, 20, 100, 200]);
    for (const r of result.knn!) expect(r.top1).toBeGreaterThan(10); // 10 classes: above chance even untrained
    const last = JSON.parse(readFileSync(join(dir, "log.jsonl"), "utf8").trim().split("\n").pop()!);
    expect(last.knn).toEqual(result.knn);
  });

  it("stops at the next step when aborted, with a checkpoint; aborted before, it trains nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-abort-"));
    const before = new AbortController();
    before.abort();
    await expect(run(dir, 0, false, before.signal)).rejects.toThrow(/aborted/);
    expect(readdirSync(dir)).toEqual([]);
    const controller = new AbortController();
    const trainer = new Trainer(
      { ...tiny, outputDir: dir, maxSteps: 0 },
      { preset: "fashion-mnist-tiny", signal: controller.signal, progress: false },
    );
    trainer.on("step", () => controller.abort());
    const result = await trainer.fit();
    expect(result.stoppedBy).toBe("abort");
    expect(result.iterations).toBe(1);
    expect(existsSync(join(dir, "checkpoint.pth"))).toBe(true);
  });

  it("stops after the first step that ends past --max-minutes, with a checkpoint; 0 sets no limit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-time-limit-"));
    // A limit of 60 microseconds: every step takes longer, so the run stops after its first.
    const { result, steps } = await run(dir, 0, false, undefined, { maxMinutes: 1e-6 });
    expect(result).toMatchObject({ stoppedBy: "maxMinutes", iterations: 1 });
    expect(steps).toHaveLength(1);
    expect(existsSync(join(dir, "checkpoint.pth"))).toBe(true);
    const unlimited = await run(mkdtempSync(join(tmpdir(), "sere-time-limit-")), 2, false, undefined, { maxMinutes: 0 });
    expect(unlimited.result).toMatchObject({ stoppedBy: "maxSteps", iterations: 2 });
  });

  it("exports the teacher backbone with reference names, loadable as a backbone", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-export-"));
    await run(dir, 1);
    const [pth, safetensors] = await exportBackbone(join(dir, "checkpoint.pth"));
    const names = (await readWeightGroups(pth!))[0]![1].map(([n, t]) => {
      t.dispose();
      return n;
    });
    expect(names).toContain("cls_token");
    expect(names).toContain("blocks.1.attn.qkv.weight");
    expect(names.some((n) => n.startsWith("head.") || n.startsWith("backbone.") || n === "masked_embed")).toBe(false);
    const model = Model.create({ arch: "custom", embedDim: 24, depth: 2, numHeads: 2, patchSize: 8, imgSize: 32, head: false });
    await model.load(safetensors!);
    model.dispose();
  });
});

describe("Trainer on a dataset of two batches", () => {
  it("resumed at the end of an epoch: no step beyond --max-steps, and no mean loss for the epoch it ran no step of", async () => {
    const data = tempDir("sere-two-batches");
    writeIdx(data, "train", 8);
    const dir = mkdtempSync(join(tmpdir(), "sere-epoch-end-"));
    const config = { dataPath: data, epochs: 3 };
    const first = await run(dir, 2, false, undefined, config);
    expect(first.steps.map((s) => s.epoch)).toEqual([0, 0]);
    const again = await run(dir, 2, true, undefined, config);
    expect([again.steps, again.epochs]).toEqual([[], []]);
    const on = await run(dir, 3, true, undefined, config);
    expect(on.steps.map((s) => [s.epoch, s.iteration])).toEqual([[1, 3]]);
    expect(on.epochs.map((e) => [e.epoch, e.meanLoss])).toEqual([[0, undefined]]);
  });

  it("a resume on data whose images changed says so", async () => {
    const data = tempDir("sere-changed-data");
    writeIdx(data, "train", 8);
    const dir = mkdtempSync(join(tmpdir(), "sere-changed-data-run-"));
    await run(dir, 1, false, undefined, { dataPath: data, epochs: 3 });
    writeIdx(data, "train", 16);
    const resumed = await run(dir, 2, true, undefined, { dataPath: data, epochs: 3 });
    expect(resumed.warnings).toEqual([
      `resuming with settings that differ from the checkpoint's run: the images of ${data} 16 (the checkpoint's run: 8); the run goes on with them after step 1, its schedules too`,
    ]);
  });

  it("a k-NN of fewer training images than DINO's ks reports the ks they give (k = 100 failed after training)", async () => {
    const data = tempDir("sere-small-knn");
    writeIdx(data, "train", 16);
    writeIdx(data, "t10k", 8);
    const knnOf = async (knnEvalLimit: number) => {
      const outputDir = mkdtempSync(join(tmpdir(), "sere-small-knn-"));
      const trainer = new Trainer({ ...TINY_RUN, dataPath: data, knnEval: true, knnEvalLimit, maxSteps: 1, outputDir }, { progress: false });
      return (await trainer.fit()).knn?.map((r) => r.k);
    };
    expect(await knnOf(0)).toEqual([10]);
    expect(await knnOf(8)).toEqual([8]);
  });

  it("without a test split, says before the first step that it trains without its k-NN, and trains", async () => {
    const data = tempDir("sere-no-test-split");
    writeIdx(data, "train", 8);
    const trainer = new Trainer(
      { ...TINY_RUN, dataPath: data, knnEval: true, outputDir: mkdtempSync(join(tmpdir(), "sere-no-test-")) },
      { progress: false },
    );
    const said: string[] = [];
    trainer.on("warning", (message) => said.push(message));
    trainer.on("start", () => said.push("start"));
    const result = await trainer.fit();
    expect(said).toEqual([
      expect.stringMatching(
        new RegExp(
          `^${data} has no test split; evaluation needs .*\\. The run goes on without its k-NN evaluation \\(knnEval: false turns it off without this warning\\)$`,
        ),
      ),
      "start",
    ]);
    expect([result.iterations, result.knn]).toEqual([1, undefined]);
  });

  it("on unlabelled images, says before the first step that it trains without its k-NN, and trains", async () => {
    const data = tempDir("sere-unlabelled");
    for (const split of ["train", "test"]) {
      mkdirSync(join(data, split));
      for (const i of [0, 1]) await writePng(join(data, split, `${i}.png`), 32, 32, i);
    }
    const trainer = new Trainer(
      { ...TINY_RUN, dataPath: data, batchSizePerGpu: 2, knnEval: true, outputDir: mkdtempSync(join(tmpdir(), "sere-unlabelled-")) },
      { progress: false },
    );
    const said: string[] = [];
    trainer.on("warning", (message) => said.push(message));
    const result = await trainer.fit();
    expect(said).toEqual([
      `${join(data, "train")} has no labels (no class subfolders, or a list without labels): the k-NN evaluation needs labelled images. ` +
        "The run goes on without its k-NN evaluation (knnEval: false turns it off without this warning)",
    ]);
    expect([result.iterations, result.knn]).toEqual([1, undefined]);
  });

  it("refuses a folder that another run writes to, before --overwrite deletes anything", async () => {
    const data = tempDir("sere-locked");
    writeIdx(data, "train", 8);
    const dir = mkdtempSync(join(tmpdir(), "sere-locked-run-"));
    await run(dir, 1, false, undefined, { dataPath: data });
    // This process stands for the other run: it is alive.
    writeFileSync(join(dir, "run.lock"), JSON.stringify({ pid: process.pid, host: hostname(), started: "now" }));
    const overwriting = new Trainer({ ...TINY_RUN, dataPath: data, outputDir: dir, overwrite: true }, { progress: false });
    const inUse = `another run (process ${process.pid} on ${hostname()}, started now) is writing to ${dir}`;
    await expect(overwriting.fit()).rejects.toThrow(inUse);
    // without --overwrite, or with --resume, the folder is named as in use too, not as an earlier run's
    const warnings: string[] = [];
    for (const resume of [false, true]) {
      const second = new Trainer({ ...TINY_RUN, dataPath: data, outputDir: dir }, { progress: false, resume });
      second.on("warning", (w) => warnings.push(w));
      await expect(second.fit()).rejects.toThrow(inUse);
    }
    expect(warnings).toEqual([]);
    expect(existsSync(join(dir, "checkpoint.pth"))).toBe(true);
    expect(existsSync(join(dir, "run.lock"))).toBe(true); // the other run's, left as it was
  });

  it("steps with the learning rate's cooldown over the last epoch", async () => {
    const data = tempDir("sere-cooldown");
    writeIdx(data, "train", 8);
    const dir = mkdtempSync(join(tmpdir(), "sere-cooldown-"));
    const config = { dataPath: data, epochs: 2, warmupEpochs: 0, lrSchedule: "constant", lrCooldownEpochs: 1, minLr: 0 } as const;
    await run(dir, 0, false, undefined, config);
    // Two batches of 4 an epoch: the peak 2.12e-3 x 4 / 256 for the first epoch, then a half and none.
    const peak = (2.12e-3 * 4) / 256;
    const lrs = logged(dir).map((l) => l.lr);
    expect(lrs).toHaveLength(4);
    for (const [i, lr] of [peak, peak, peak / 2, 0].entries()) expect(lrs[i], `iteration ${i}`).toBeCloseTo(lr, 15);
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
