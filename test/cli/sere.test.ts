// The sere evaluation commands on a checkpoint of a one-step run.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";

import { type Info, info, openDataset, readSafetensors } from "../../src/index.js";
import { hasNativeBfloat16 } from "../../src/native/cpu.js";
import { exportBackbone } from "../../src/train/export.js";
import { Trainer } from "../../src/train/trainer.js";
import { writeJpeg } from "../data/helpers.js";
import { hasFashionMnist } from "../requirements.js";
import { TINY_RUN } from "../train/helpers.js";

const FASHION_MNIST = "/usr/share/datasets/fashion-mnist";
/** Fashion-MNIST's training labels of the 60 images that `--limit 60` spreads over its 60,000: every 1,000th, as the IDX file stores them. */
const limitedLabels = () => {
  const labels = gunzipSync(readFileSync(join(FASHION_MNIST, "train-labels-idx1-ubyte.gz"))).subarray(8);
  return Array.from({ length: 60 }, (_, i) => labels[i * 1000]!);
};
const sere = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "src/cli/sere.ts", ...args], { encoding: "utf8" });

describe.runIf(hasFashionMnist())("sere", () => {
  const dir = mkdtempSync(join(tmpdir(), "sere-eval-"));
  const checkpoint = join(dir, "run", "checkpoint.pth");
  const common = ["--pretrained-weights", checkpoint, "--data-path", FASHION_MNIST, "--limit", "60"];

  beforeAll(async () => {
    await new Trainer({ ...TINY_RUN, outputDir: join(dir, "run") }, { progress: false }).fit();
  });

  it("export writes the teacher's backbone, and sere-train export is the same command", () => {
    const run = sere(["export", "--pretrained-weights", checkpoint, "--output-dir", join(dir, "sere-export")]);
    expect(run.status, run.stderr).toBe(0);
    const viaTrain = spawnSync(
      process.execPath,
      ["--import", "tsx", "src/cli/sere-train.ts", "export", "--pretrained-weights", checkpoint, "--output-dir", join(dir, "train-export")],
      { encoding: "utf8" },
    );
    expect(viaTrain.status, viaTrain.stderr).toBe(0);
    for (const file of ["teacher_backbone.pth", "teacher_backbone.safetensors"]) {
      expect(readFileSync(join(dir, "train-export", file))).toEqual(readFileSync(join(dir, "sere-export", file)));
    }
    const bad = spawnSync(process.execPath, ["--import", "tsx", "src/cli/sere-train.ts", "export", "--checkpoint-key", "ema"], { encoding: "utf8" });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^sere-train: invalid sere export flags:\n[\s\S]*^ {2}--checkpoint-key: .*"ema"/m);
  });

  it("finetune --resume in a pretraining run's folder says whose checkpoint it is, and changes nothing there", () => {
    const before = readdirSync(join(dir, "run")).sort();
    const small =
      "--arch custom --embed-dim 24 --depth 1 --num-heads 2 --patch-size 8 --input-size 32 --batch-size-per-gpu 16 --limit 60 --threads 1";
    const run = sere(["finetune", "--resume", "--output-dir", join(dir, "run"), "--data-path", FASHION_MNIST, ...small.split(" ")]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`--resume: ${join(dir, "run")} holds a pretraining run (sere-train's), not a fine-tuning run`);
    expect(readdirSync(join(dir, "run")).sort()).toEqual(before);
    // a folder of no run: nothing to take the settings from
    const none = sere(["finetune", "--resume", "--output-dir", join(dir, "no-run")]);
    expect(none.stderr).toContain(`--resume: ${join(dir, "no-run")} holds no fine-tuning run (no config.json): give the run's --output-dir`);
  });

  it("eval knn prints and writes the accuracy for each k", () => {
    const run = sere(["eval", "knn", ...common, "--nb-knn", "5", "10", "--threads", "1", "--output-dir", join(dir, "knn")]);
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(readFileSync(join(dir, "knn", "knn.json"), "utf8")) as Array<{ k: number; top1: number }>;
    expect(result.map((r) => r.k)).toEqual([5, 10]);
    expect(JSON.parse(run.stdout)).toEqual(result);
  });

  it("eval knn refuses a k given above the training images before extracting any, and says which k fit; by default it takes DINO's that fit", () => {
    const run = sere(["eval", "knn", ...common, "--nb-knn", "10,20,100,200", "--output-dir", join(dir, "knn-large")]);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^sere: --nb-knn 100,200: the k-NN searches 60 training images, fewer than k; give --nb-knn 10,20$/m);
    expect(run.stderr).not.toContain("training features");
    const fitting = sere(["eval", "knn", ...common, "--output-dir", join(dir, "knn-fitting")]);
    expect(fitting.status, fitting.stderr).toBe(0);
    expect((JSON.parse(fitting.stdout) as Array<{ k: number }>).map((r) => r.k)).toEqual([10, 20]);
  });

  it("eval linear sweeps the learning rates (training on augmented views)", () => {
    const run = sere([
      "eval",
      "linear",
      ...common,
      "--lrs",
      "0.01",
      "0.1",
      "--epochs",
      "2",
      "--train-views",
      "2",
      "--output-dir",
      join(dir, "linear"),
    ]);
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).sweep.map((r: { lr: number }) => r.lr)).toEqual([0.01, 0.1]);
  });

  it("features writes the CLS features and labels of both splits", async () => {
    const run = sere(["features", ...common, "--output-dir", join(dir, "features")]);
    expect(run.status, run.stderr).toBe(0);
    const train = new Map(await readSafetensors(join(dir, "features", "features_train.safetensors")));
    expect(train.get("features")!.shape()).toEqual([60, 24]);
    expect(train.get("labels")!.shape()).toEqual([60]);
    expect(Array.from(train.get("labels")!.toArray() as BigInt64Array, Number)).toEqual(limitedLabels());
    // which image each row is, and each label's class
    const images = JSON.parse(readFileSync(join(dir, "features", "images_train.json"), "utf8")) as string[];
    expect([images.length, images[0], images[1]]).toEqual([60, "train-images-idx3-ubyte.gz#0", "train-images-idx3-ubyte.gz#1000"]);
    expect(JSON.parse(readFileSync(join(dir, "features", "classes.json"), "utf8"))).toEqual(openDataset(FASHION_MNIST).classes);
  });

  it("features of data without a test split writes the training split's alone and says so; eval knn refuses such data before any work", async () => {
    const data = join(dir, "unsplit");
    mkdirSync(join(data, "cats"), { recursive: true });
    for (const i of [0, 1, 2]) await writeJpeg(join(data, "cats", `${i}.jpg`), 20, 20, i);
    const run = sere(["features", "--pretrained-weights", checkpoint, "--data-path", data, "--output-dir", join(dir, "unsplit-features")]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toContain(
      `warning: ${data} has no test split (no test/, val/, validation/ subfolder); evaluation needs test images that training does not see`,
    );
    expect(run.stderr).toContain("Only the training split's features are written");
    expect(readdirSync(join(dir, "unsplit-features")).sort()).toEqual(["classes.json", "features_train.safetensors", "images_train.json"]);
    // split but unlabelled: the evaluations refuse it before extracting anything
    const unlabelled = join(dir, "unlabelled");
    for (const split of ["train", "test"]) {
      mkdirSync(join(unlabelled, split), { recursive: true });
      await writeJpeg(join(unlabelled, split, "0.jpg"), 20, 20, 1);
    }
    const linear = sere([
      "eval",
      "linear",
      "--pretrained-weights",
      checkpoint,
      "--data-path",
      unlabelled,
      "--output-dir",
      join(dir, "unlabelled-linear"),
    ]);
    expect(linear.status).toBe(1);
    expect(linear.stderr).toMatch(new RegExp(`^sere: ${join(unlabelled, "train")} has no labels .*: the linear probe needs labelled images$`, "m"));
    expect(linear.stderr).not.toContain("training features");
    const knn = sere(["eval", "knn", "--pretrained-weights", checkpoint, "--data-path", data, "--output-dir", join(dir, "unsplit-knn")]);
    expect(knn.status).toBe(1);
    expect(knn.stderr).toMatch(new RegExp(`^sere: ${data} has no test split`, "m"));
    expect(knn.stderr).not.toContain("training features");
  });

  it("features --format npy with --avgpool-patchtokens writes .npy files that NumPy's layout describes", async () => {
    const run = sere(["features", ...common, "--format", "npy", "--avgpool-patchtokens", "true", "--output-dir", join(dir, "npy")]);
    expect(run.status, run.stderr).toBe(0);
    const header = (name: string) => {
      const bytes = readFileSync(join(dir, "npy", name));
      const length = bytes.readUInt16LE(8);
      return { text: bytes.subarray(10, 10 + length).toString("latin1"), dataBytes: bytes.length - 10 - length };
    };
    const features = header("features_test.npy");
    expect(features.text).toContain("'descr': '<f4', 'fortran_order': False, 'shape': (60, 48), }"); // CLS and mean patch token
    expect(features.dataBytes).toBe(60 * 48 * 4);
    const labels = header("labels_train.npy");
    expect(labels.text).toContain("'descr': '<i8', 'fortran_order': False, 'shape': (60,), }");
    expect(
      Array.from(new BigInt64Array(Uint8Array.from(readFileSync(join(dir, "npy", "labels_train.npy")).subarray(-60 * 8)).buffer), Number),
    ).toEqual(limitedLabels());
  });

  it("attention writes overlays for an image", async () => {
    const image = join(dir, "image.png");
    await sharp({ create: { width: 48, height: 32, channels: 3, background: "#808080" } })
      .png()
      .toFile(image);
    const run = sere(["attention", "--pretrained-weights", checkpoint, "--image-path", image, "--output-dir", join(dir, "attention")]);
    expect(run.status, run.stderr).toBe(0);
    expect(existsSync(join(dir, "attention", "attention-head1.png"))).toBe(true);
    expect(existsSync(join(dir, "attention", "attention-panels.png"))).toBe(true);
  });

  it("eval knn reads an exported .safetensors backbone, given --arch custom and its fields", async () => {
    const [, safetensors] = await exportBackbone(checkpoint, { outputDir: join(dir, "export") });
    const architecture = ["--arch", "custom", "--embed-dim", "24", "--depth", "1", "--num-heads", "2", "--patch-size", "8"];
    const run = sere([
      "eval",
      "knn",
      ...common.slice(2),
      "--pretrained-weights",
      safetensors!,
      ...architecture,
      "--nb-knn",
      "5",
      "--output-dir",
      join(dir, "knn-export"),
    ]);
    expect(run.status, run.stderr).toBe(0);
    const fromCheckpoint = JSON.parse(readFileSync(join(dir, "knn", "knn.json"), "utf8")) as Array<{ k: number; top1: number }>;
    expect(JSON.parse(run.stdout)).toEqual(fromCheckpoint.filter((r) => r.k === 5)); // the same teacher, the same 32 px input
  });

  it("features reads an exported .pth backbone with --checkpoint-key teacher (a plain state dict has no keys)", async () => {
    const [pth] = await exportBackbone(checkpoint, { outputDir: join(dir, "export") });
    const architecture = ["--arch", "custom", "--embed-dim", "24", "--depth", "1", "--num-heads", "2", "--patch-size", "8"];
    const run = sere([
      "features",
      ...common.slice(2),
      "--pretrained-weights",
      pth!,
      "--checkpoint-key",
      "teacher",
      ...architecture,
      "--output-dir",
      join(dir, "features-export"),
    ]);
    expect(run.status, run.stderr).toBe(0);
    const exported = new Map(await readSafetensors(join(dir, "features-export", "features_test.safetensors")));
    const original = new Map(await readSafetensors(join(dir, "features", "features_test.safetensors")));
    expect(Array.from(exported.get("features")!.toArray() as Float32Array)).toEqual(Array.from(original.get("features")!.toArray() as Float32Array));
  });

  it("finetune trains a classifier from the run's backbone: log, checkpoints, accuracy; eval classify agrees; --resume continues", async () => {
    const out = join(dir, "finetune");
    const args = [
      "finetune",
      "--pretrained-weights",
      checkpoint,
      "--data-path",
      FASHION_MNIST,
      "--limit",
      "64",
      "--batch-size-per-gpu",
      "16",
      "--model-ema",
      "true",
    ];
    const first = sere([...args, "--epochs", "2", "--warmup-epochs", "0.5", "--lr", "1e-3", "--max-steps", "5", "--output-dir", out]);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/started from the backbone of .*checkpoint\.pth \(\d+ tensors\); the head starts afresh/);
    const result = JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as { top1: number; top5: number; steps: number };
    expect(result.steps).toBe(5);
    expect(result.top1).toBeGreaterThanOrEqual(0);
    expect(result.top5).toBeGreaterThanOrEqual(result.top1);
    const log = readFileSync(join(out, "log.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, number>);
    expect(log.filter((r) => "loss" in r).map((r) => r.iteration)).toEqual([1, 2, 3, 4, 5]);
    expect(log.at(-1)).toMatchObject({ test_top1: result.top1, test_top5: result.top5 });
    expect(log.at(-1)!.test_top1_ema).toBeGreaterThanOrEqual(0); // the moving average's accuracy beside
    for (const file of ["checkpoint.pth", "best.pth"]) expect(existsSync(join(out, file)), file).toBe(true);

    const classify = sere([
      "eval",
      "classify",
      "--pretrained-weights",
      join(out, "checkpoint.pth"),
      "--data-path",
      FASHION_MNIST,
      "--limit",
      "64",
      "--output-dir",
      out,
    ]);
    expect(classify.status, classify.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(out, "classify.json"), "utf8"))).toEqual({ top1: result.top1, top5: result.top5 });
    // data of other classes is refused: its labels would score outputs that mean other classes
    const other = join(dir, "other-classes");
    for (const [split, label] of [
      ["train", "cats"],
      ["test", "cats"],
      ["test", "dogs"],
    ]) {
      mkdirSync(join(other, split!, label!), { recursive: true });
      await writeJpeg(join(other, split!, label!, "0.jpg"), 20, 20, 1);
    }
    const mismatched = sere(["eval", "classify", "--pretrained-weights", join(out, "checkpoint.pth"), "--data-path", other]);
    expect(mismatched.status).toBe(1);
    expect(mismatched.stderr).toContain(
      `classifies the 10 classes T-shirt/top, Trouser, Pullover, Dress, Coat and 5 more, but ${join(other, "test")} has 2: cats, dogs; ` +
        "give the data it was fine-tuned on (the same classes, in the same order), or fine-tune on this data",
    );

    const again = sere([...args, "--epochs", "2", "--warmup-epochs", "0.5", "--output-dir", out]);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain(
      `the output folder ${out} holds an earlier run (best.pth, checkpoint.pth, log.jsonl, result.json): continue it with --resume, start anew with --overwrite (deletes those files), or give another --output-dir`,
    );
    const resumed = sere([...args, "--epochs", "2", "--warmup-epochs", "0.5", "--lr", "1e-3", "--resume", "true", "--output-dir", out]);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resumed from .* at step 5/);
    expect((JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as { steps: number }).steps).toBe(8);
    // each step once in the log: the resumed run's steps follow the checkpoint's
    const stepsLogged = readFileSync(join(out, "log.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { loss?: number; iteration: number })
      .filter((r) => r.loss !== undefined)
      .map((r) => r.iteration);
    expect(stepsLogged).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // --overwrite starts anew: the earlier run's checkpoints, log and result go
    const anew = sere([...args, "--epochs", "1", "--warmup-epochs", "0.5", "--max-steps", "1", "--overwrite", "true", "--output-dir", out]);
    expect(anew.status, anew.stderr).toBe(0);
    expect((JSON.parse(readFileSync(join(out, "result.json"), "utf8")) as { steps: number }).steps).toBe(1);
    expect(readFileSync(join(out, "log.jsonl"), "utf8").trim().split("\n")[0]).toMatch(/"iteration":1\b/);
  });

  it("eval classify refuses a pretraining checkpoint, saying what it needs", () => {
    const run = sere(["eval", "classify", "--pretrained-weights", checkpoint, "--data-path", FASHION_MNIST]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`${checkpoint} is a pretraining run's (sere-train's) checkpoint, which classifies nothing: fine-tune it first`);
  });

  it("refuses an output folder it cannot make before any work, not after it", () => {
    const file = join(mkdtempSync(join(tmpdir(), "sere-output-file-")), "results");
    writeFileSync(file, "x");
    const run = sere(["eval", "knn", "--pretrained-weights", checkpoint, "--data-path", FASHION_MNIST, "--output-dir", file]);
    expect(run.status).toBe(1);
    // the whole of stderr: no features were extracted first
    expect(run.stderr).toBe(
      `sere: cannot create the output folder ${file}: ${file} is a file, not a folder; give a folder that can be written (--output-dir)\n`,
    );
  });

  it("names a missing flag", () => {
    const run = sere(["eval", "knn", "--data-path", FASHION_MNIST]);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^ {2}--pretrained-weights: required, and not given$/m);
  });
});

describe("sere info", () => {
  it("prints what the build runs with as JSON: the runtime's info(), the CPU's cores and bfloat16", () => {
    const run = sere(["info"]);
    expect(run.status, run.stderr).toBe(0);
    const printed = JSON.parse(run.stdout) as Info & { cpu: { cores: number; nativeBfloat16: boolean; autoPrecision: string } };
    const { threads: _threads, ...here } = info(); // the threads are the process's own
    expect(printed).toMatchObject(here);
    expect(printed.version).toBe(JSON.parse(readFileSync("package.json", "utf8")).version);
    expect(printed.cpu).toEqual({
      cores: availableParallelism(),
      nativeBfloat16: hasNativeBfloat16(),
      autoPrecision: hasNativeBfloat16() ? "bfloat16" : "float32",
    });
    expect(sere(["info", "--cuda"]).stderr).toMatch(/unknown flag --cuda/);
    // a command mistyped is named, with the commands it may have meant; asking for help is no error
    const mistyped = sere(["eval", "knnn"]);
    expect([mistyped.status, mistyped.stderr.split("\n")[0]]).toEqual([2, "sere: unknown command eval knnn; did you mean sere eval knn?"]);
    expect(sere(["feature"]).stderr).toMatch(/^sere: unknown command feature; did you mean sere features\?\n\nUsage: sere finetune/);
    expect(sere(["evl", "knn"]).stderr).toMatch(/^sere: unknown command evl knn; did you mean sere eval knn\?/);
    expect(sere(["predcit", "--limit", "1"]).stderr).toMatch(/^sere: unknown command predcit; did you mean sere predict\?/);
    expect(sere(["eval", "--threads", "1"]).stderr).toMatch(
      /^sere: sere eval needs what to evaluate first: sere eval knn, sere eval linear or sere eval classify/,
    );
    const help = sere(["eval", "--help"]);
    expect([help.status, help.stdout.startsWith("Usage: sere finetune")]).toEqual([0, true]);
  });
});

describe("sere --help", () => {
  it.each(["finetune", "predict", "eval knn", "eval linear", "eval classify", "features", "attention", "export", "report"])(
    "sere %s --help says what each flag does",
    (command) => {
      const run = sere([...command.split(" "), "--help"]);
      expect(run.status, run.stderr).toBe(0);
      const lines = run.stdout.split("\n");
      const flags = lines.flatMap((line, i) => (line.startsWith("  --") ? [[line, lines[i + 1] ?? ""] as const] : []));
      expect(flags.length).toBeGreaterThan(2);
      // the description on the next line, or (the launcher's flags) beside the flag
      for (const [flag, description] of flags) expect(/^ {6}\S/.test(description) || /^ {2}--\S+( \S+)? {2,}\S/.test(flag), flag).toBe(true);
      // every command that computes takes --threads; export only copies tensors
      expect(
        flags.some(([flag]) => flag.startsWith("  --threads ")),
        command,
      ).toBe(command !== "export");
    },
  );

  it("sere finetune --help shows the values the run would take: the preset's under the flags given", () => {
    const help = sere(["finetune", "--preset", "fashion-mnist-tiny-finetune", "--epochs", "3", "--help"]).stdout;
    expect(help).toContain("  --epochs number (3)\n");
    expect(help).toContain("  --output-dir string (runs/fashion-mnist-tiny-finetune)\n");
    expect(help).toContain("  --data-path string (/usr/share/datasets/fashion-mnist)\n");
    const recipe = sere(["finetune", "--help"]).stdout;
    expect(recipe).toContain("  --epochs number (100)\n");
    expect(recipe).toMatch(/^ {2}--data-path string\n/m);
  });

  it("sere attention lists the flags that change its maps alone", () => {
    const help = sere(["attention", "--help"]).stdout;
    for (const flag of ["--image-path", "--image-short-side", "--pretrained-weights", "--threads"]) expect(help).toContain(`  ${flag} `);
    for (const flag of ["--limit", "--image-size", "--n-last-blocks", "--batch-size-per-gpu", "--max-failure-share"])
      expect(help).not.toContain(`  ${flag} `);
  });
});
