// The fine-tuning configuration (`sere finetune`): one zod schema, defaults from iBOT's
// end-to-end classification recipe (bytedance/ibot, evaluation/classification_layer_decay/
// run_class_finetuning.py get_args() and run.sh `imagenet_cls`), which follows BEiT's.
import { join } from "node:path";

import { z } from "zod";

import { DEFAULT_MAX_FAILURE_SHARE } from "../data/failures.js";
import { archSchema, deviceSchema } from "../model/options.js";
import { ConfigError, type FieldNames, parseOptions, settingName } from "./parse.js";
import { presetUnderArch } from "./presets.js";
import { continuedSettings, runSettings } from "./resolve.js";

const positiveInt = z.number().int().positive();
const probability = z.number().min(0).max(1);

export const finetuneConfigSchema = z
  .object({
    // Where the network starts
    pretrainedWeights: z
      .string()
      .default("")
      .describe(
        "the backbone to fine-tune: a training checkpoint, an exported backbone (.pth, .safetensors) or a DINO / iBOT / SERE checkpoint; empty: random initialisation",
      ),
    checkpointKey: z.enum(["teacher", "student"]).default("teacher").describe("the network of a training checkpoint (iBOT fine-tunes the teacher)"),
    arch: archSchema.describe("the architecture, for weights that store none and for random initialisation"),
    patchSize: positiveInt.default(16).describe("patch size, for weights that store none and for random initialisation"),
    convStem: z
      .boolean()
      .default(false)
      .describe("a convolutional stem (see sere-train --conv-stem), for random initialisation; weights with one are read as such"),
    embedDim: positiveInt.optional().describe("token width, for arch custom"),
    depth: positiveInt.optional().describe("transformer blocks, for arch custom"),
    numHeads: positiveInt.optional().describe("attention heads, for arch custom"),
    mlpRatio: z.number().positive().optional().describe("MLP width / token width, for arch custom"),

    // Data
    dataPath: z
      .string()
      .describe(
        "a labelled dataset: train/ and val/ (or test/) image folders, IDX or CIFAR files, or a list (.txt, .lst, .csv) named with train beside its test list",
      ),
    inputSize: positiveInt.optional().describe("side of the training and evaluation images; default: the pretraining resolution, else 224"),
    labelFraction: z
      .number()
      .gt(0)
      .max(1)
      .default(1)
      .describe("keep this share of the training labels: a seeded subset with the same share of every class (0.01: the 1% protocol)"),
    limit: z.number().int().min(0).default(0).describe("use only N images of each split, spread evenly over it (0: all)"),
    maxFailureShare: probability
      .default(DEFAULT_MAX_FAILURE_SHARE)
      .describe("share of an epoch's (or the test split's) images that may fail to decode, each skipped with a warning, before the run stops"),

    // The classifier
    pooling: z
      .enum(["cls", "mean"])
      .default("cls")
      .describe("the image's representation: the CLS token (iBOT's --use_cls) or the mean patch token under fc_norm"),
    initScale: z.number().positive().default(0.001).describe("the head's initial weights and bias are multiplied by this (BEiT's --init_scale)"),
    dropPath: probability.default(0.1).describe("stochastic depth rate of the last block"),

    // Optimisation
    epochs: positiveInt.default(100).describe("passes over the (kept) training images"),
    warmupEpochs: z.number().min(0).default(20).describe("epochs of linear learning-rate warmup from 0"),
    batchSizePerGpu: positiveInt.default(128).describe("images per step (per process)"),
    lr: z.number().positive().default(4e-3).describe("peak learning rate, used as given (the recipe does not scale it by the batch size)"),
    minLr: z.number().min(0).default(1e-6).describe("learning rate at the end of the cosine"),
    weightDecay: z.number().min(0).default(0.05).describe("AdamW weight decay (not on 1-D parameters, biases, cls_token, pos_embed)"),
    layerDecay: z
      .number()
      .gt(0)
      .max(1)
      .default(0.65)
      .describe("layer-wise lr decay: block i gets lr * layerDecay^(depth - i), the embeddings layerDecay^(depth + 1); 1: off"),
    modelEma: z.boolean().default(false).describe("keep a moving average of the weights (timm's ModelEmaV2) and report its test accuracy too"),
    modelEmaDecay: z.number().min(0).lt(1).default(0.9999).describe("the moving average's decay per step"),
    clipGrad: z.number().min(0).default(0).describe("limit of the gradients' global norm (0: no clipping, the recipe's default)"),
    precision: z
      .enum(["float32", "bfloat16", "float16"])
      .default("float32")
      .describe("precision of the forward and backward (autocast): float32, bfloat16, or float16 (CUDA, with loss scaling)"),

    // Regularisation
    smoothing: probability.default(0.1).describe("label smoothing"),
    mixup: z.number().min(0).default(0.8).describe("mixup's Beta(alpha, alpha) alpha; 0: no mixup"),
    cutmix: z.number().min(0).default(1).describe("CutMix's Beta(alpha, alpha) alpha; 0: no CutMix"),
    mixupProb: probability.default(1).describe("probability that a batch is mixed at all"),
    mixupSwitchProb: probability.default(0.5).describe("with both on: probability of CutMix rather than mixup"),
    randAugmentOps: z
      .number()
      .int()
      .min(0)
      .default(2)
      .describe("RandAugment: ops per training image, torchvision's RandAugment (the recipe's timm rand-m9-mstd0.5-inc1 differs in details); 0: off"),
    randAugmentMagnitude: z.number().int().min(0).max(30).default(9).describe("RandAugment: the magnitude bin of every op (of 31)"),
    reprob: probability.default(0.25).describe("random erasing: probability per image (timm's RandomErasing, pixel mode)"),
    hflip: probability.default(0.5).describe("probability of a horizontal flip of each training image"),
    cropScale: z
      .tuple([probability, probability])
      .default([0.08, 1])
      .describe("area range of the training crop (RandomResizedCrop), as a share of the image"),

    // Running
    device: deviceSchema.describe('"cpu", "cuda" or "cuda:N"'),
    seed: z.number().int().min(0).default(0).describe("seed of the head's initial weights, the data order, crops, mixing and erasing"),
    outputDir: z.string().min(1).default("runs/finetune").describe("folder of config.json, log.jsonl, checkpoint.pth, best.pth and result.json"),
    resume: z
      .boolean()
      .default(false)
      .describe("continue from OUTPUT_DIR/checkpoint.pth, with the run's own settings (its config.json) but for those given"),
    overwrite: z
      .boolean()
      .default(false)
      .describe("start anew in an output folder that holds an earlier run (deletes its checkpoints, log and result)"),
    evalEvery: positiveInt.default(1).describe("evaluate on the test split every N epochs (and after the last)"),
    maxSteps: z.number().int().min(0).default(0).describe("stop after this many steps (0: run all epochs)"),
    threads: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe("LibTorch threads (0: OMP_NUM_THREADS where set, else the machine's cores, shared among the ranks on one machine)"),
    distTimeout: z
      .number()
      .positive()
      .default(1800)
      .describe("data parallelism: seconds a rank waits for the others before it fails naming the rank it misses"),
  })
  .superRefine((c, ctx) => {
    if (c.precision === "float16" && c.device === "cpu") {
      ctx.addIssue({ code: "custom", path: ["precision"], message: 'float16 needs a CUDA device; on the CPU use "bfloat16" or "float32"' });
    }
    if (c.warmupEpochs > c.epochs) {
      ctx.addIssue({
        code: "custom",
        path: ["warmupEpochs"],
        message: `a warmup of ${c.warmupEpochs} epochs is longer than the run's ${c.epochs}: give at most ${c.epochs} (fractions are allowed)`,
      });
    }
  });

export type FinetuneConfig = z.output<typeof finetuneConfigSchema>;
export type FinetuneConfigInput = z.input<typeof finetuneConfigSchema>;

/** iBOT's published ImageNet fine-tuning (evaluation/README.md; run.sh imagenet_cls): 8 GPUs x 128 images. */
const IMAGENET = {
  dataPath: "/path/to/imagenet",
  epochs: 100,
  warmupEpochs: 20,
  batchSizePerGpu: 128,
  lr: 4e-3, // the script's default; the README says the lr was swept and gives none
  inputSize: 224,
  precision: "float16",
  device: "cuda",
} satisfies Partial<FinetuneConfigInput>;

export const FINETUNE_PRESETS = {
  // README: --epochs 200 --drop_path 0.1 --layer_decay 0.75
  "vit-small-imagenet-finetune": { ...IMAGENET, arch: "vit_small", epochs: 200, dropPath: 0.1, layerDecay: 0.75 },
  // README: --epochs 100 --drop_path 0.2 --layer_decay 0.65
  "vit-base-imagenet-finetune": { ...IMAGENET, arch: "vit_base", epochs: 100, dropPath: 0.2, layerDecay: 0.65 },
  // Transfer to small datasets (evaluation/eval_cls.py, DeiT's recipe): no layer decay, base lr
  // 7.5e-6 scaled by 768 / 512 images, 5 warmup epochs, cosine to 1e-5, 1000 epochs, init scale 1.
  "deit-transfer-finetune": {
    ...IMAGENET,
    arch: "vit_base",
    epochs: 1000,
    warmupEpochs: 5,
    batchSizePerGpu: 96,
    lr: 1.125e-5,
    minLr: 1e-5,
    layerDecay: 1,
    initScale: 1,
    dropPath: 0.1,
    modelEma: true, // DeiT's --model-ema, decay 0.99996
    modelEmaDecay: 0.99996,
  },
  // The demo: the default pretraining run's network on Fashion-MNIST, about 8 minutes on 2 CPU
  // cores (10 passes of 937 steps, with a test evaluation after each). From 1-epoch trials (README, "Fine-tuning"): ImageNet's regularisation (RandAugment,
  // mixup / CutMix, erasing, drop path, crops down to 8%) costs a short run on 28 px images
  // up to 12 points; crops of 80-100%, no drop path and a higher lr gained 3.
  "fashion-mnist-tiny-finetune": {
    pretrainedWeights: "runs/fashion-mnist-tiny/checkpoint.pth",
    dataPath: "/usr/share/datasets/fashion-mnist",
    outputDir: "runs/fashion-mnist-tiny-finetune",
    arch: "custom",
    embedDim: 96,
    depth: 4,
    numHeads: 3,
    patchSize: 8,
    convStem: true,
    inputSize: 32,
    epochs: 10,
    warmupEpochs: 0.5,
    batchSizePerGpu: 64,
    lr: 4e-3,
    minLr: 1e-5,
    layerDecay: 0.75,
    dropPath: 0,
    cropScale: [0.8, 1],
    randAugmentOps: 0,
    mixup: 0,
    cutmix: 0,
    reprob: 0,
  },
} satisfies Record<string, Partial<FinetuneConfigInput>>;

export type FinetunePresetName = keyof typeof FINETUNE_PRESETS;

/**
 * The fields a resumed fine-tuning run takes from this invocation rather than from the run it
 * continues: where the run is and how this invocation ends.
 */
const RUN_INVOCATION_FIELDS: ReadonlySet<string> = new Set<keyof FinetuneConfig>(["outputDir", "resume", "overwrite", "maxSteps"]);

/** With `resume`, the settings of the run in the output folder that it takes over (none for a new run). */
export function resumedFinetuneSettings(options: Partial<FinetuneConfigInput>, names: FieldNames = "fields"): Record<string, unknown> {
  if (!options.resume) return {};
  const setting = (field: string, value?: string | boolean) => settingName(field, names, value);
  const outputDir = options.outputDir ?? finetuneConfigSchema.shape.outputDir.parse(undefined);
  const run = runSettings(outputDir);
  // a pretraining run's settings (sere-train's: its heads' outDim) are not a fine-tuning run's
  if (run?.outDim !== undefined) {
    throw new ConfigError(
      `${setting("resume", true)}: ${outputDir} holds a pretraining run (sere-train's), not a fine-tuning run: resume fine-tuning in its own output folder, ` +
        `or fine-tune from this one in another (${setting("pretrainedWeights", join(outputDir, "checkpoint.pth"))})`,
    );
  }
  // nothing to take the data from: a folder of no run, or a mistyped one
  if (!run && options.dataPath === undefined) {
    throw new ConfigError(
      `${setting("resume", true)}: ${outputDir} holds no fine-tuning run (no config.json): give the run's ${setting("outputDir")}, or start a new run without ${setting("resume", true)}`,
    );
  }
  return run ? continuedSettings(run, finetuneConfigSchema.shape, RUN_INVOCATION_FIELDS) : {};
}

/**
 * A preset (none: the schema's defaults, iBOT's recipe) overridden by explicit values, validated;
 * a resumed run's own settings (its config.json) stand between them.
 */
export function resolveFinetuneConfig(
  preset: string | undefined,
  overrides: Partial<FinetuneConfigInput>,
  how: { names?: FieldNames } = {},
): FinetuneConfig {
  if (preset !== undefined && !(preset in FINETUNE_PRESETS)) {
    throw new ConfigError(`unknown fine-tuning preset "${preset}"; the presets are ${Object.keys(FINETUNE_PRESETS).join(", ")}`);
  }
  const base = preset === undefined ? {} : presetUnderArch(FINETUNE_PRESETS[preset as FinetunePresetName], overrides.arch);
  const options = { ...base, ...overrides }; // with the preset's data path, where it gives one
  return parseOptions(finetuneConfigSchema, { ...base, ...resumedFinetuneSettings(options, how.names), ...overrides }, "fine-tuning configuration", {
    knownFieldsOnly: true,
    names: how.names,
  });
}
