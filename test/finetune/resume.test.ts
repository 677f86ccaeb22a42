// A fine-tuning run stopped and resumed ends where an uninterrupted run ends: the same
// weights, with RandAugment, mixing, erasing, drop path and the moving average all on.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

import { Finetuner } from "../../src/finetune/finetuner.js";
import { readWeightGroups } from "../../src/model/weights.js";
import { tinyRun, writeImageFolder } from "../eval/helpers.js";
import { maxAbsDiff } from "../model/helpers.js";
import { hasFashionMnist } from "../requirements.js";

const RUN = {
  dataPath: "/usr/share/datasets/fashion-mnist",
  limit: 64,
  arch: "custom",
  embedDim: 24,
  depth: 2,
  numHeads: 2,
  patchSize: 8,
  inputSize: 32,
  epochs: 2,
  warmupEpochs: 0.5,
  batchSizePerGpu: 16,
  lr: 1e-3,
  dropPath: 0.2,
  reprob: 0.5,
  modelEma: true,
  modelEmaDecay: 0.9,
  threads: 1,
} as const;

describe.runIf(hasFashionMnist())("resuming fine-tuning", () => {
  it("stopped after 3 steps and resumed, it ends with the uninterrupted run's weights and moving average", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-finetune-resume-"));
    await new Finetuner({ ...RUN, outputDir: join(dir, "whole") }).fit();
    const lines: string[] = [];
    const say = (line: string) => lines.push(line);
    const stopped = await new Finetuner({ ...RUN, maxSteps: 3, outputDir: join(dir, "parts") }, { say }).fit();
    expect(stopped).toMatchObject({ steps: 3, epochs: 0, stopped: false, stoppedBy: "maxSteps" });
    // resumed with its folder alone: the run's own settings come from its config.json
    const resumed = await new Finetuner({ resume: true, outputDir: join(dir, "parts") }, { say }).fit();
    expect(resumed).toMatchObject({ steps: 8, epochs: 2, stopped: false, stoppedBy: "done" });
    // the run writes its result.json itself, from code as from the command line
    expect(JSON.parse(readFileSync(join(dir, "parts", "result.json"), "utf8"))).toMatchObject({ steps: 8, stoppedBy: "done" });
    // Each run says what it is about to do: the resumed one from where the first stopped.
    const plans = lines.filter((line) => line.startsWith("fine-tuning on "));
    expect(plans).toEqual([
      `fine-tuning on 64 of 64 training images of ${RUN.dataPath} (10 classes), input 32 px, in batches of 16: 2 epochs of 4 steps, to step 3; cpu, 1 thread, float32`,
      `fine-tuning on 64 of 64 training images of ${RUN.dataPath} (10 classes), input 32 px, in batches of 16: 2 epochs of 4 steps, from step 3 to step 8; cpu, 1 thread, float32`,
    ]);
    // the first says where --max-steps left it; the resumed one starts from the checkpoint, not from random weights
    expect(lines.filter((line) => line.startsWith("stopped"))).toEqual([
      `stopped at maxSteps after 3 steps (0.8 of 2 passes): wrote ${join(dir, "parts", "checkpoint.pth")}; resume: true goes on (with maxSteps: 0, or more)`,
    ]);
    expect(lines.filter((line) => line.startsWith("started from"))).toEqual(["started from random initialisation (no pretrainedWeights)"]);
    const read = async (run: string) => new Map(await readWeightGroups(join(dir, run, "checkpoint.pth")));
    const [whole, parts] = [await read("whole"), await read("parts")];
    for (const key of ["model", "model_ema"]) {
      const a = new Map(whole.get(key)!);
      const b = new Map(parts.get(key)!);
      expect(a.size).toBeGreaterThan(20);
      for (const [name, t] of a) expect(maxAbsDiff(t, b.get(name)!), `${key}: ${name}`).toBe(0);
    }
  }, 60_000);

  it("resumed with other settings, it names them: a network of another shape is refused, a new recipe is said", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-finetune-changed-"));
    await new Finetuner({ ...RUN, maxSteps: 1, outputDir: dir }).fit();
    const checkpoint = join(dir, "checkpoint.pth");
    await expect(new Finetuner({ ...RUN, embedDim: 48, resume: true, maxSteps: 2, outputDir: dir }).fit()).rejects.toThrow(
      `cannot resume from ${checkpoint}: its network does not match this run's, whose settings differ from the checkpoint's run: embedDim 48 (the checkpoint's run: 24); resume with the checkpoint's settings`,
    );
    const warnings: string[] = [];
    const listen = (w: Error) => warnings.push(w.message);
    process.on("warning", listen);
    try {
      // --max-steps and --threads steer the process: changed without a word
      await new Finetuner({ ...RUN, lr: 2e-3, threads: 2, resume: true, maxSteps: 2, outputDir: dir }).fit();
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    } finally {
      process.off("warning", listen);
    }
    expect(warnings.filter((w) => w.includes("differ"))).toEqual([
      "resuming with settings that differ from the checkpoint's run: lr 0.002 (the checkpoint's run: 0.001); the run goes on with them after step 1, its schedules too",
    ]);
  }, 60_000);

  it("from pretrained weights, resumed with another network's settings: refused (not ignored), config.json kept", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-finetune-reshaped-"));
    await writeImageFolder(join(dir, "images"), 8);
    await tinyRun(join(dir, "images"), join(dir, "pretrained"));
    const run = { ...RUN, pretrainedWeights: join(dir, "pretrained", "checkpoint.pth"), outputDir: join(dir, "run") };
    await new Finetuner({ ...run, maxSteps: 1 }).fit();
    const config = readFileSync(join(dir, "run", "config.json"), "utf8");
    // the network comes from the checkpoint: before, these were taken into config.json and ignored
    await expect(new Finetuner({ ...run, embedDim: 48, depth: 3, resume: true, maxSteps: 2 }).fit()).rejects.toThrow(
      /^cannot resume from .*checkpoint\.pth: its network does not match this run's, whose settings differ from the checkpoint's run: embedDim 48 \(the checkpoint's run: 24\), depth 3 \(the checkpoint's run: 2\); resume with the checkpoint's settings$/,
    );
    expect(readFileSync(join(dir, "run", "config.json"), "utf8")).toBe(config);
    // the network and its weights come from the checkpoint: the weights it started from may be gone
    rmSync(join(dir, "pretrained"), { recursive: true });
    const resumed = await new Finetuner({ resume: true, outputDir: join(dir, "run"), maxSteps: 2 }).fit();
    expect(resumed).toMatchObject({ steps: 2, stoppedBy: "maxSteps" });
  }, 60_000);

  it("a finished run resumed has nothing to train, and keeps its result", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-finetune-finished-"));
    const done = await new Finetuner({ ...RUN, epochs: 1, outputDir: dir }).fit();
    const written = readFileSync(join(dir, "result.json"), "utf8");
    const lines: string[] = [];
    const again = await new Finetuner({ resume: true, outputDir: dir }, { say: (line) => lines.push(line) }).fit();
    expect(lines.at(-1)).toBe(`${join(dir, "checkpoint.pth")} is at step 4, the end of this run: nothing to train (raise epochs to go on)`);
    expect(again).toEqual(JSON.parse(written));
    expect(again.top1).toBe(done.top1);
    expect(readFileSync(join(dir, "result.json"), "utf8")).toBe(written);
  }, 60_000);

  it("aborted before it starts, it trains and writes nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-finetune-aborted-"));
    await expect(new Finetuner({ ...RUN, outputDir: dir }, { signal: AbortSignal.abort() }).fit()).rejects.toThrow(/aborted/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("aborted from onStep, it stops after that step, as Trainer does", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-finetune-onstep-"));
    const controller = new AbortController();
    const onStep = (done: number) => done === 2 && controller.abort();
    const result = await new Finetuner({ ...RUN, outputDir: dir }, { signal: controller.signal, onStep }).fit();
    expect(result).toMatchObject({ steps: 2, stopped: true, stoppedBy: "abort" });
  });

  it("names pretrained weights that are not there by their setting, and makes nothing", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "sere-finetune-no-weights-")), "run");
    const missing = join(dir, "..", "nothing.pth");
    await expect(new Finetuner({ ...RUN, pretrainedWeights: missing, outputDir: dir }).fit()).rejects.toThrow(
      `pretrainedWeights ${missing}: there is no such file`,
    );
    expect(existsSync(dir)).toBe(false);
  });

  it("a stop during the test evaluation ends the run at once with a checkpoint to resume from", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sere-finetune-stop-eval-"));
    const controller = new AbortController();
    const lines: string[] = [];
    let stopAsked = 0;
    // the whole test split (10,000 images) takes longer to classify than the 100 ms before the stop
    const run = new Finetuner(
      { ...RUN, limit: 0, maxSteps: 1, outputDir: dir },
      {
        say: (line) => lines.push(line),
        signal: controller.signal,
        onStep: () =>
          setTimeout(() => {
            stopAsked = performance.now();
            controller.abort();
          }, 100),
      },
    );
    const result = await run.fit();
    expect(performance.now() - stopAsked).toBeLessThan(5_000);
    expect(result).toMatchObject({ steps: 1, stopped: true, stoppedBy: "abort" });
    expect(lines.at(-1)).toBe(
      `stopped after 1 step (0.00027 of 2 passes), before the test evaluation of epoch 0 (1 of 2) ended: wrote ${join(dir, "checkpoint.pth")}; continue with resume: true`,
    );
    const groups = new Map(await readWeightGroups(join(dir, "checkpoint.pth")));
    expect(groups.get("model")!.length).toBeGreaterThan(20);
  }, 60_000);
});
