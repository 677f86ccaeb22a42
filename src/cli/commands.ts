// The commands of `sere` (src/cli/sere.ts): fine-tuning, prediction, evaluation, export and run
// reports, with DINO's evaluation flags. `sere-train export` runs `sere export` from here too.
//   sere finetune | sere predict | sere eval knn | sere eval linear | sere eval classify | sere features |
//   sere attention | sere export | sere report RUN_DIR | sere info
import { existsSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";

import { z } from "zod";

import { FINETUNE_PRESETS, finetuneConfigSchema, resolveFinetuneConfig } from "../config/finetune.js";

import { flagsHelp, parseFlags } from "../config/flags.js";
import { ConfigError, closeNames, parseOptions } from "../config/parse.js";
import { type Dataset, DatasetError, requireLabelledSplits, requireLabels, type Split } from "../data/datasets/dataset.js";
import { FileDataset } from "../data/datasets/files.js";
import { openDataset } from "../data/datasets/open.js";
import { IMAGE_EXTENSIONS } from "../data/decode.js";
import { DEFAULT_MAX_FAILURE_SHARE } from "../data/failures.js";
import { attentionMaps, DEFAULT_SHORT_SIDE } from "../eval/attention.js";
import { openBackbone } from "../eval/backbone.js";
import { clsFeatures, type ExtractedFeatures, extractFeatures } from "../eval/features.js";
import { DINO_KS, dinoKsFor, knnAccuracy } from "../eval/knn.js";
import { linearProbe, linearProbeOptionsSchema } from "../eval/linear-probe.js";
import { checkSameClasses, openFinetuned, testAccuracy } from "../finetune/classify.js";
import { Finetuner } from "../finetune/finetuner.js";
import { predict } from "../finetune/predict.js";
import { makeFolder } from "../io/folders.js";
import { writeNpy } from "../io/npy.js";
import { writeSafetensors } from "../io/safetensors.js";
import { archSchema, deviceSchema } from "../model/options.js";
import { hasNativeBfloat16 } from "../native/cpu.js";
import { writeReport } from "../report/report.js";
import { info, setThreads } from "../runtime.js";
import { tensor } from "../tensor.js";
import { exportBackbone } from "../train/export.js";
import { countOf } from "../train/plan.js";
import { TaskProgress, writeLine } from "../train/progress.js";
import { stepPrecision } from "../train/step-options.js";
import { LAUNCH_USAGE, launchRanks, signalExitCode, takeLaunchFlags } from "./launch.js";
import { packageVersion } from "./version.js";

/** LibTorch's threads for a command that computes. */
const threads = z.number().int().min(0).default(0).describe("LibTorch threads (0: OMP_NUM_THREADS where set, else the machine's cores)");

/** Flags every command shares: which weights, which architecture when the file does not say (each with its --help line). */
const common = {
  pretrainedWeights: z
    .string()
    .describe("a training checkpoint, an exported backbone (.pth or .safetensors) or a reference (DINO, iBOT, SERE) checkpoint"),
  checkpointKey: z.enum(["teacher", "student"]).default("teacher").describe("the network of a training checkpoint; a plain state dict ignores it"),
  arch: archSchema.describe("the architecture, only for weights without a stored configuration (exported or reference files)"),
  patchSize: z
    .number()
    .int()
    .positive()
    .default(16)
    .describe("patch size, only for weights that store neither a configuration nor a patch embedding"),
  embedDim: z.number().int().positive().optional().describe("token width, for --arch custom (or to override an arch's)"),
  depth: z.number().int().positive().optional().describe("transformer blocks, for --arch custom"),
  numHeads: z.number().int().positive().optional().describe("attention heads, for --arch custom"),
  mlpRatio: z.number().positive().optional().describe("MLP width / token width, for --arch custom"),
  imageSize: z.number().int().positive().optional().describe("input side for evaluation; default: the training resolution (or 224)"),
  batchSizePerGpu: z.number().int().positive().default(256).describe("images embedded at once"),
  device: deviceSchema.describe('where the backbone runs: "cpu", "cuda" or "cuda:N"'),
  outputDir: z.string().default(".").describe("folder of the results"),
  limit: z.number().int().min(0).default(0).describe("use only N images of each split, spread evenly over it (0: all)"),
  nLastBlocks: z
    .number()
    .int()
    .positive()
    .default(1)
    .describe("features: the CLS tokens of the last N blocks, concatenated (DINO's --n_last_blocks)"),
  avgpoolPatchtokens: z.boolean().default(false).describe("features: also the mean patch token of the last block (DINO's --avgpool_patchtokens)"),
  maxFailureShare: z
    .number()
    .min(0)
    .max(1)
    .default(DEFAULT_MAX_FAILURE_SHARE)
    .describe("share of the images that may fail to decode (each skipped with a warning) before evaluation stops"),
  threads,
};
/** The flags of the backbone's weights and architecture alone (those of a command that runs it on one image). */
const { pretrainedWeights, checkpointKey, arch, patchSize, embedDim, depth, numHeads, mlpRatio, device, outputDir } = common;
const weights = { pretrainedWeights, checkpointKey, arch, patchSize, embedDim, depth, numHeads, mlpRatio, device, outputDir, threads };
const dataPath = finetuneConfigSchema.shape.dataPath;
const COMMANDS = {
  "eval knn": z.object({
    ...common,
    dataPath,
    nbKnn: z
      .array(z.number().int().positive())
      .optional()
      .describe(`the k to report; default: DINO's ${DINO_KS.join(",")}, those at most the training images searched`),
    temperature: z.number().positive().default(0.07).describe("temperature of the neighbours' votes"),
  }),
  "eval linear": z.object({
    ...common,
    dataPath,
    lrs: linearProbeOptionsSchema.shape.lrs.describe("learning rates of the sweep; the best is reported"),
    epochs: linearProbeOptionsSchema.shape.epochs.describe("epochs of each linear classifier"),
    trainViews: z
      .number()
      .int()
      .min(0)
      .default(4)
      .describe("augmented views (random resized crop + flip) per training image, one per epoch in turn; 0: the centre crop only"),
    seed: z.number().int().min(0).default(0).describe("seed of the views, the initial weights and the batch order"),
  }),
  "eval classify": z.object({
    pretrainedWeights: z.string().describe("a fine-tuning checkpoint (checkpoint.pth or best.pth of sere finetune)"),
    dataPath,
    device: common.device,
    batchSizePerGpu: common.batchSizePerGpu,
    limit: common.limit,
    maxFailureShare: common.maxFailureShare,
    outputDir: common.outputDir,
    threads,
  }),
  predict: z.object({
    pretrainedWeights: z.string().describe("a fine-tuning checkpoint (checkpoint.pth or best.pth of sere finetune)"),
    dataPath: z
      .string()
      .describe("the images: an image file, an image folder (class subfolders or none), a list (.txt, .lst, .csv), IDX or CIFAR files"),
    split: z
      .enum(["train", "test"])
      .optional()
      .describe("the split of data that has two; default: its test split where it has one, else all its images"),
    classes: z.number().int().positive().default(5).describe("the most probable classes listed for each image"),
    device: common.device,
    batchSizePerGpu: common.batchSizePerGpu,
    limit: common.limit,
    maxFailureShare: common.maxFailureShare,
    outputDir: z.string().default(".").describe("folder of predictions.json"),
    threads,
  }),
  finetune: finetuneConfigSchema,
  features: z.object({
    ...common,
    dataPath,
    format: z.enum(["safetensors", "npy"]).default("safetensors").describe("file format of the features and labels"),
  }),
  attention: z.object({
    ...weights,
    imagePath: z.string().describe("the image whose attention maps to draw"),
    imageShortSide: z
      .number()
      .int()
      .positive()
      .optional()
      .describe(
        `resize the image's shorter side to this first (default: ${DEFAULT_SHORT_SIDE} px where it is longer, as DINO's visualize_attention.py); a size whose attention would take over 2 GiB is refused`,
      ),
  }),
  export: z.object({
    pretrainedWeights: z.string().describe("a training checkpoint"),
    checkpointKey: z.enum(["teacher", "student"]).default("teacher").describe("the network to export"),
    outputDir: z.string().optional().describe("folder of the files; default: the checkpoint's"),
  }),
  info: z.object({}),
  report: z.object({
    runDir: z.string().describe("a training run's output folder (also the first argument: sere report RUN_DIR)"),
    images: z.number().int().min(0).default(4).describe("training images whose attention maps the report shows"),
    device: deviceSchema.describe("where the backbone runs for the attention maps"),
    threads,
    output: z.string().optional().describe("the page's path; default RUN_DIR/report.html"),
    png: z.string().optional().describe("also writes the charts alone as one PNG image at this path (no browser needed)"),
  }),
};
type Command = keyof typeof COMMANDS;

/** The backbone of the weights (architecture from the file, else from the flags) and the input side to use. */
async function backbone(o: z.output<z.ZodObject<typeof weights>> & { imageSize?: number }) {
  const { arch, embedDim, depth, numHeads, mlpRatio, patchSize } = o;
  const { model, trainedSize } = await openBackbone(o.pretrainedWeights, {
    checkpointKey: o.checkpointKey,
    architecture: { arch, embedDim, depth, numHeads, mlpRatio, patchSize },
    device: o.device,
  });
  return { model, size: o.imageSize ?? trainedSize };
}

/** Warns on stderr, each message once (the views of the linear probe meet the same broken files). */
const warnings = new Set<string>();
function warn(message: string): void {
  if (warnings.has(message)) return;
  warnings.add(message);
  writeLine(`warning: ${message}`);
}

/**
 * Whether this process speaks for the command: not so the ranks of `sere finetune
 * --nproc-per-node N` but the first, or every line would come N times.
 */
const speaks = (process.env.RANK ?? "0") === "0";

/** Ctrl-C: the running evaluation stops at its next batch or step (exit code 130); a second Ctrl-C quits at once. */
const ctrlC = new AbortController();
function stopOnCtrlC(): void {
  // one listener for both presses: between a `once` listener and the next, Ctrl-C would kill the process without a word
  process.on("SIGINT", () => {
    if (ctrlC.signal.aborted) process.exit(signalExitCode("SIGINT"));
    if (speaks) writeLine("Ctrl-C: stopping (press it again to quit now)");
    ctrlC.abort();
  });
}

/** A progress callback drawing `label` on stderr. */
function progress(label: string, unit: string): (done: number, total: number) => void {
  const reporter = new TaskProgress(label, unit);
  return (done, total) => reporter.update(done, total);
}

/**
 * Training and test features: centre crops; with `trainViews` > 0 the training split
 * instead as (views, N, D), one random resized crop + flip per view.
 */
type FeatureFlags = Omit<z.output<(typeof COMMANDS)["features"]>, "format"> & { trainViews?: number; seed?: number };

/** The test split; where the data has none, undefined when it is optional (with a warning), else the DatasetError. */
function openTestSplit(dataPath: string, optional: boolean): Dataset | undefined {
  try {
    return openDataset(dataPath, { split: "test" });
  } catch (err) {
    if (!optional || !(err instanceof DatasetError)) throw err;
    warn(`${err.message}. Only the training split's features are written`);
    return undefined;
  }
}

/** The images to predict: one image file, else the split asked for, else the data's test split where it has one, else all its images. */
function openImages(path: string, split: Split | undefined): Dataset {
  if (IMAGE_EXTENSIONS.test(path) && existsSync(path) && statSync(path).isFile())
    return new FileDataset("image-folder", path, [resolve(path)], [-1], []);
  if (split === "test") {
    try {
      return openDataset(path, { split });
    } catch (err) {
      if (!(err instanceof DatasetError)) throw err;
      throw new DatasetError(`--split test: ${path} has no test split; leave --split out to predict all its images (${err.message})`);
    }
  }
  if (split) return openDataset(path, { split });
  try {
    return openDataset(path, { split: "test" });
  } catch (err) {
    if (!(err instanceof DatasetError)) throw err;
    return openDataset(path); // no test split: the training split, all the images of a plain folder
  }
}

/**
 * The features of both splits, the test split's extracted last; with `testOptional` (`sere
 * features`), data without a test split gives the training split's alone.
 */
async function features(o: FeatureFlags, how: { testOptional?: boolean; labelsFor?: string; check?: (train: Dataset) => void } = {}) {
  // the data is opened and checked before the backbone is read and anything extracted
  const trainSet = openDataset(o.dataPath, { split: "train" });
  const testSet = openTestSplit(o.dataPath, how.testOptional ?? false);
  if (how.labelsFor) {
    if (testSet) requireLabelledSplits(trainSet, testSet, how.labelsFor, warn);
    else requireLabels(trainSet, how.labelsFor);
  }
  how.check?.(trainSet);
  const { model, size } = await backbone(o);
  try {
    const embed = clsFeatures(model, { nLastBlocks: o.nLastBlocks, avgpoolPatchtokens: o.avgpoolPatchtokens });
    const options = {
      size,
      batchSize: o.batchSizePerGpu,
      device: o.device,
      limit: o.limit > 0 ? o.limit : undefined,
      maxFailureShare: o.maxFailureShare,
      warn,
      signal: ctrlC.signal,
    };
    const views = o.trainViews ?? 0;
    const train =
      views > 0
        ? await stackViews(
            Array.from(
              { length: views },
              (_, view) => () =>
                extractFeatures(trainSet, embed, {
                  ...options,
                  augment: { seed: o.seed ?? 0, view },
                  onProgress: progress(`training features, view ${view + 1}/${views}`, "images"),
                }),
            ),
          )
        : await extractFeatures(trainSet, embed, { ...options, onProgress: progress("training features", "images") });
    const test = testSet && (await extractFeatures(testSet, embed, { ...options, onProgress: progress("test features", "images") }));
    return { train, test, classes: trainSet.classes };
  } finally {
    model.dispose();
  }
}

/**
 * The ks of `sere eval knn`: those given, where the training images searched have as many (a k
 * above them would fail after their features are extracted: refused before); else DINO's that fit.
 */
function neighboursFor(o: { limit: number; nbKnn?: number[] }, images: number): number[] {
  const searched = o.limit > 0 ? Math.min(o.limit, images) : images;
  if (o.nbKnn === undefined) return dinoKsFor(searched);
  const fitting = o.nbKnn.filter((k) => k <= searched);
  const tooLarge = o.nbKnn.filter((k) => k > searched);
  if (tooLarge.length === 0) return o.nbKnn;
  const fix = fitting.length > 0 ? `--nb-knn ${fitting.join(",")}` : `a k of at most ${searched} (--nb-knn ${Math.min(20, searched)})`;
  throw new ConfigError(`--nb-knn ${tooLarge.join(",")}: the k-NN searches ${countOf(searched, "training image")}, fewer than k; give ${fix}`);
}

/** Runs the extractions one after another and stacks their features: (views, N, D). */
async function stackViews(extractions: Array<() => Promise<ExtractedFeatures>>): Promise<ExtractedFeatures> {
  let stacked: Float32Array | undefined;
  let shape: number[] = [];
  let first: ExtractedFeatures | undefined; // the views' labels and images are the same
  for (const [v, extract] of extractions.entries()) {
    const f = await extract();
    shape = f.features.shape();
    stacked ??= new Float32Array(extractions.length * shape[0]! * shape[1]!);
    stacked.set(f.features.toArray() as Float32Array, v * shape[0]! * shape[1]!);
    f.features.dispose();
    if (first) f.labels.dispose();
    first ??= f;
  }
  return { ...first!, features: tensor(stacked!, [extractions.length, ...shape]) };
}

/** Prints a result and writes it as JSON into the output folder. */
function report(outputDir: string, file: string, result: object): void {
  writeFileSync(join(outputDir, file), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** What `sere finetune --help` shows: the preset's values under the flags given (those alone where these do not resolve). */
function finetuneHelpValues(preset: string | undefined, given: Record<string, unknown>): Record<string, unknown> | undefined {
  // the data path has no default: where neither the preset nor the flags give it, the help shows none
  const presetData = preset && preset in FINETUNE_PRESETS ? FINETUNE_PRESETS[preset as keyof typeof FINETUNE_PRESETS].dataPath : undefined;
  const dataPath = (given.dataPath as string | undefined) ?? presetData ?? "";
  for (const values of [given, {}]) {
    try {
      const resolved = resolveFinetuneConfig(preset, { ...values, dataPath });
      return { ...resolved, dataPath: dataPath || undefined };
    } catch {
      // an unknown preset or a bad value: the preset's alone, else the schema's defaults
    }
  }
  return undefined;
}

async function run(command: Command, argv: string[]): Promise<void> {
  const schema = COMMANDS[command];
  // sere report RUN_DIR: the folder may come first, without its flag
  if (command === "report" && argv[0] !== undefined && !argv[0].startsWith("-")) argv = ["--run-dir", ...argv];
  // sere finetune --nproc-per-node N: data parallelism, one rank per process
  const { launch, rest } = command === "finetune" ? takeLaunchFlags(argv) : { rest: argv };
  const flags = parseFlags(rest, schema.shape, command === "finetune" ? ["preset"] : []);
  if (flags.help) {
    const preset = flags.extra.preset as string | undefined;
    const presets =
      command === "finetune"
        ? `${LAUNCH_USAGE}\n\n  --preset NAME\n      start from a preset: ${Object.keys(FINETUNE_PRESETS).join(", ")} (none: iBOT's recipe)\n\n` +
          `Values in brackets are what this run takes: ${preset ? `preset ${preset}` : "iBOT's recipe"}${Object.keys(flags.values).length > 0 ? " and the flags given" : ""}.\n`
        : "";
    const values = command === "finetune" ? finetuneHelpValues(preset, flags.values) : undefined;
    const hasFlags = Object.keys(schema.shape).length > 0;
    process.stdout.write(
      `Usage: sere ${command}${hasFlags ? " [--flag value ...]" : ""}\n\n${presets}${hasFlags ? `${flagsHelp(schema.shape, values)}\n` : ""}`,
    );
    return;
  }
  const parse = <C extends Command>(c: C) => {
    const o = parseOptions(COMMANDS[c], flags.values, `sere ${c} flags`, { names: "flags" }) as z.output<(typeof COMMANDS)[C]>;
    if ("threads" in o) setThreads(o.threads);
    // the folder of the results, made before the work rather than found unwritable after it
    if ("outputDir" in o && typeof o.outputDir === "string") makeFolder(o.outputDir, "--output-dir");
    return o;
  };
  const say = (text: string) => process.stdout.write(`${text}\n`);
  switch (command) {
    case "finetune": {
      const config = resolveFinetuneConfig(flags.extra.preset as string | undefined, flags.values, { names: "flags" });
      if (launch) {
        // Bad values fail here, once, rather than in every rank.
        process.exitCode = await launchRanks(launch, process.argv[1]!, ["finetune", ...rest]);
        return;
      }
      const bar = speaks ? progress("fine-tuning", "steps") : () => {};
      const finetuner = new Finetuner(config, {
        say: writeLine,
        warn,
        names: "flags",
        onStep: (done, total) => bar(done, total),
        signal: ctrlC.signal,
      });
      const result = await finetuner.fit();
      if (speaks) process.stdout.write(`${JSON.stringify(result)}\n`); // the run wrote it to result.json too
      if (result.stopped) process.exitCode = signalExitCode("SIGINT");
      return;
    }
    case "eval classify": {
      const o = parse("eval classify");
      const classifier = await openFinetuned(o.pretrainedWeights, o.device);
      const { step, size } = classifier;
      try {
        const test = openDataset(o.dataPath, { split: "test" });
        checkSameClasses(classifier, test, o.pretrainedWeights);
        requireLabels(test, "scoring a classifier");
        const accuracy = await testAccuracy(step, test, {
          size,
          device: o.device,
          limit: o.limit,
          batchSize: o.batchSizePerGpu,
          maxFailureShare: o.maxFailureShare,
          warn,
          onProgress: progress("test images", "images"),
          signal: ctrlC.signal,
        });
        report(o.outputDir, "classify.json", accuracy);
      } finally {
        step.dispose();
      }
      return;
    }
    case "predict": {
      const o = parse("predict");
      const images = openImages(o.dataPath, o.split); // the data is opened before the checkpoint is read
      const classifier = await openFinetuned(o.pretrainedWeights, o.device);
      try {
        const { predictions } = await predict(classifier, images, {
          device: o.device,
          batchSize: o.batchSizePerGpu,
          limit: o.limit,
          maxFailureShare: o.maxFailureShare,
          classes: o.classes,
          warn,
          onProgress: progress("images", "images"),
          signal: ctrlC.signal,
        });
        const path = join(o.outputDir, "predictions.json");
        writeFileSync(path, `${JSON.stringify(predictions, null, 1)}\n`);
        // a few images: each one's classes on the terminal too
        if (predictions.length <= 20) {
          for (const p of predictions) {
            const classes = p.top.map((t) => `${t.class} ${(100 * t.probability).toFixed(1)}%`).join(", ");
            say(`${p.image}${p.label === undefined ? "" : ` (${p.label})`}: ${classes}`);
          }
        }
        const listed = Math.min(o.classes, classifier.numClasses);
        say(`wrote ${path}: the most probable ${listed === 1 ? "class" : `${listed} classes`} of ${countOf(predictions.length, "image")}`);
      } finally {
        classifier.step.dispose();
      }
      return;
    }
    case "info": {
      parse("info");
      // What this build and machine run with: LibTorch, CUDA's devices, threads, BLAS; and on
      // the CPU, whether bfloat16 is native there (what precision "auto" takes).
      const bfloat16 = hasNativeBfloat16();
      const cpu = {
        cores: availableParallelism(),
        nativeBfloat16: bfloat16,
        autoPrecision: stepPrecision({ precision: "auto", device: "cpu" }, bfloat16),
      };
      say(JSON.stringify({ ...info(), cpu }, null, 2));
      return;
    }
    case "report": {
      const o = parse("report");
      say(`wrote ${await writeReport(o.runDir, { images: o.images, device: o.device, output: o.output, png: o.png, warn })}`);
      if (o.png !== undefined) say(`wrote ${o.png}`);
      return;
    }
    case "export": {
      const o = parse("export");
      say(`wrote ${(await exportBackbone(o.pretrainedWeights, { checkpointKey: o.checkpointKey, outputDir: o.outputDir })).join(" and ")}`);
      return;
    }
    case "attention": {
      const o = parse("attention");
      const { model } = await backbone(o);
      try {
        const maps = await attentionMaps(model, o.imagePath, o.outputDir, { shortSide: o.imageShortSide });
        say(`wrote ${maps.files.length} overlays and ${maps.panels}`);
      } finally {
        model.dispose();
      }
      return;
    }
    case "features": {
      const o = parse("features");
      const { train, test, classes } = await features(o, { testOptional: true });
      for (const [name, f] of [
        ["train", train],
        ["test", test],
      ] as const) {
        if (!f) continue;
        if (o.format === "npy") {
          for (const [what, t] of [
            ["features", f.features],
            ["labels", f.labels],
          ] as const) {
            const path = join(o.outputDir, `${what}_${name}.npy`);
            await writeNpy(path, t);
            say(`wrote ${path}: ${what} ${JSON.stringify(t.shape())}`);
          }
        } else {
          const path = join(o.outputDir, `features_${name}.safetensors`);
          await writeSafetensors(path, [
            ["features", f.features],
            ["labels", f.labels],
          ]);
          say(`wrote ${path}: features ${JSON.stringify(f.features.shape())}, labels`);
        }
        // which image each row is, and which class each label (rows of images that failed to decode are left out)
        writeFileSync(join(o.outputDir, `images_${name}.json`), `${JSON.stringify(f.images, null, 1)}\n`);
      }
      writeFileSync(join(o.outputDir, "classes.json"), `${JSON.stringify(classes, null, 1)}\n`);
      say(
        `wrote ${join(o.outputDir, "images_train.json")}${test ? " and images_test.json" : ""} (each row's image) and classes.json (each label's class)`,
      );
      return;
    }
    case "eval knn": {
      const o = parse("eval knn");
      let ks: number[] = [];
      const check = (train: Dataset) => {
        ks = neighboursFor(o, train.size);
      };
      const { train, test } = await features(o, { labelsFor: "the k-NN evaluation", check });
      report(o.outputDir, "knn.json", await knnAccuracy(train, test!, { ks, temperature: o.temperature }));
      return;
    }
    case "eval linear": {
      const o = parse("eval linear");
      const { train, test } = await features(o, { labelsFor: "the linear probe" });
      const options = { lrs: o.lrs, epochs: o.epochs, seed: o.seed, signal: ctrlC.signal, onProgress: progress("linear probe", "epochs") };
      report(o.outputDir, "linear.json", await linearProbe(train, test!, options));
      return;
    }
  }
}

const USAGE = `Usage: sere finetune [--preset NAME] [--nproc-per-node N] [--flag value ...]   end-to-end classification from a pretrained backbone
       sere predict --pretrained-weights best.pth --data-path IMAGES   a fine-tuned classifier's classes for each image
       sere eval knn | sere eval linear | sere eval classify | sere features | sere attention | sere export  [--flag value ...]
       sere report RUN_DIR   one HTML page on a training run: curves, k-NN, attention maps, configuration
       sere info   what this build runs with (LibTorch, CUDA devices, threads, the CPU's bfloat16) as JSON
       sere <command> --help   lists the command's flags
       sere --version
`;

/** Runs `sere ARGS` (`program` names it in errors); sets process.exitCode. */
export function runSere(args: string[], program = "sere"): void {
  const command = (args[0] === "eval" ? `eval ${args[1]}` : args[0]) as Command;
  if (args[0] === "--version") {
    process.stdout.write(`sere ${packageVersion()}\n`);
  } else if (!(command in COMMANDS)) {
    const asked = args.length === 0 || args.at(-1) === "--help" || (args[0] === "eval" && args.length === 1);
    if (!asked && args[0] === "eval" && args[1]?.startsWith("-")) {
      process.stderr.write(`${program}: sere eval needs what to evaluate first: sere eval knn, sere eval linear or sere eval classify\n\n`);
    } else if (!asked) {
      // the command's words: one, or two where the second is no flag (eval knnn, evl knn)
      const given = args
        .slice(0, 2)
        .filter((word, i) => i === 0 || !word.startsWith("-"))
        .join(" ");
      const close = closeNames(given, Object.keys(COMMANDS));
      const meant = close.length > 0 ? `; did you mean ${close.map((c) => `sere ${c}`).join(", ")}?` : "";
      process.stderr.write(`${program}: unknown command ${given}${meant}\n\n`);
    }
    (asked ? process.stdout : process.stderr).write(USAGE);
    process.exitCode = asked ? 0 : 2;
  } else {
    stopOnCtrlC();
    run(command, args.slice(command.startsWith("eval") ? 2 : 1)).catch((err: Error) => {
      if (ctrlC.signal.aborted) {
        writeLine(`${program} ${command}: stopped (Ctrl-C)`);
        process.exitCode = signalExitCode("SIGINT");
        return;
      }
      writeLine(`${program}: ${err.message}`);
      process.exitCode = 1;
    });
  }
}
