// The training configuration: one zod schema for everything a run needs. Field names are
// the reference implementation's argument names in camelCase (its `--batch_size_per_gpu`
// is `batchSizePerGpu` here and `--batch-size-per-gpu` on the command line).
import { z } from "zod";

import { photometryFields } from "../data/config.js";
import { archSchema, convStemIssue, deviceSchema } from "../model/options.js";

const positiveInt = z.number().int().positive();
const probability = z.number().min(0).max(1);
const scaleRange = z.tuple([probability, probability]).refine(([a, b]) => a <= b, { message: "the first bound must not exceed the second" });

export const trainConfigSchema = z
  .object({
    // Model (docs/method.md#networks)
    arch: archSchema.describe("ViT size: vit_tiny, vit_small, vit_base, vit_large, or custom (give embedDim, depth and numHeads)"),
    embedDim: positiveInt.optional().describe("token width: for arch custom, or to change a named arch's"),
    depth: positiveInt.optional().describe("transformer blocks: for arch custom, or to change a named arch's"),
    numHeads: positiveInt.optional().describe("attention heads: for arch custom, or to change a named arch's"),
    patchSize: positiveInt.default(16).describe("side of the square patches, in pixels"),
    convStem: z
      .boolean()
      .default(false)
      .describe(
        "embed patches with a stem of 3x3 stride-2 convolutions (BatchNorm, ReLU) instead of one patch-sized convolution; the patch size must be a power of two",
      ),
    outDim: positiveInt.default(8192).describe("output dimensions (prototypes) of the iBOT head"),
    hiddenDim: positiveInt.default(2048).describe("hidden width of the head's MLP"),
    bottleneckDim: positiveInt.default(256).describe("width of the head's bottleneck, before its last layer"),
    normLastLayer: z.boolean().default(true).describe("weight-normalise the head's last layer with its norm fixed at 1 (steadier, slower to learn)"),
    sharedHead: z.boolean().default(true).describe("one student head for the CLS and the patch tokens"),
    sharedHeadTeacher: z.boolean().default(true).describe("one teacher head for the CLS and the patch tokens"),
    dropPath: z.number().min(0).max(1).default(0.1).describe("stochastic depth rate of the student"),
    momentumTeacher: z
      .number()
      .min(0)
      .max(1)
      .default(0.996)
      .describe("EMA momentum of the teacher at the start; a cosine schedule raises it to momentumTeacherEnd"),
    momentumTeacherEnd: z
      .number()
      .min(0)
      .max(1)
      .default(1)
      .describe("EMA momentum of the teacher at the end of its cosine schedule (1, the reference: the teacher stops following the student)"),
    pretrainedWeights: z
      .string()
      .default("")
      .describe(
        "start student and teacher from these weights: a DINO, iBOT or SERE checkpoint or an exported backbone (.pth, .safetensors); heads absent from it start fresh",
      ),

    // Objective (docs/method.md#objective)
    alpha: z.number().min(0).default(1).describe("weight of the spatial relation loss"),
    beta: z.number().min(0).default(1).describe("weight of the channel relation loss"),
    lambda1: z.number().min(0).default(1).describe("weight of the CLS (DINO) part of the iBOT loss"),
    lambda2: z.number().min(0).default(1).describe("weight of the masked patch (MIM) part of the iBOT loss"),
    studentTemp: z.number().positive().default(0.1).describe("student temperature of the iBOT losses, CLS and patches (the reference's 0.1)"),
    temperaturePixel: z.number().positive().default(0.5).describe("teacher temperature of the spatial relations"),
    temperatureChannel: z.number().positive().default(0.1).describe("teacher temperature of the channel relations"),
    overlapSize: z.tuple([positiveInt, positiveInt]).default([13, 13]).describe("rows and columns of the grid that samples the overlap of two views"),
    warmupTeacherTemp: z.number().positive().default(0.04).describe("teacher temperature of the CLS targets at the start of its warmup"),
    teacherTemp: z.number().positive().default(0.04).describe("teacher temperature of the CLS targets after its warmup"),
    warmupTeacherPatchTemp: z.number().positive().default(0.04).describe("teacher temperature of the patch targets at the start of its warmup"),
    teacherPatchTemp: z.number().positive().default(0.07).describe("teacher temperature of the patch targets after its warmup"),
    warmupTeacherTempEpochs: z.number().int().min(0).default(30).describe("epochs of the teacher temperatures' linear warmup"),

    // Views and masks (docs/method.md#views-and-masks)
    globalCropsSize: positiveInt.default(224).describe("side of the two global views, in pixels"),
    globalCropsScale: scaleRange.default([0.4, 1]).describe("area range of the global crops, as a share of the image"),
    localCropsNumber: z.number().int().min(0).default(10).describe("local views per image (0: none)"),
    localCropsSize: positiveInt.default(96).describe("side of the local views, in pixels"),
    localCropsScale: scaleRange.default([0.05, 0.4]).describe("area range of the local crops, as a share of the image"),
    predRatio: z
      .tuple([probability, probability])
      .default([0, 0.3])
      .describe("masking ratios of the global views, one drawn per image (iBOT's --pred_ratio)"),
    predRatioVar: z
      .tuple([probability, probability])
      .default([0, 0.2])
      .describe("spread of each masking ratio: drawn uniformly within ratio +- var (iBOT's --pred_ratio_var)"),
    ...photometryFields,

    // Optimisation (docs/method.md#optimisation)
    epochs: positiveInt.default(100).describe("passes over the training set"),
    warmupEpochs: z
      .number()
      .min(0)
      .default(10)
      .describe("linear learning rate warmup, in epochs; fractions of an epoch are allowed (rounded to whole iterations)"),
    lr: z.number().positive().default(5e-4).describe("peak learning rate for 256 images a step; scaled by the global batch / 256"),
    lrSchedule: z
      .enum(["cosine", "constant"])
      .default("cosine")
      .describe("after the warmup: cosine to minLr (the reference), or constant at the peak (minLr unused)"),
    lrCooldownEpochs: z
      .number()
      .min(0)
      .default(0)
      .describe('with lrSchedule "constant": the last epochs, over which the learning rate falls linearly to minLr (0: none)'),
    minLr: z.number().min(0).default(1e-6).describe("learning rate at the end of the cosine schedule or the cooldown"),
    weightDecay: z.number().min(0).default(0.04).describe("weight decay at the start of its cosine schedule"),
    weightDecayEnd: z.number().min(0).default(0.4).describe("weight decay at the end of its cosine schedule"),
    clipGrad: z.number().min(0).default(3).describe("largest gradient norm of each parameter (0: no clipping)"),
    freezeLastLayer: z.number().int().min(0).default(1).describe("epochs in which the head's last layer is not trained"),
    batchSizePerGpu: positiveInt.default(128).describe("images a step on each device (rank)"),
    accumIter: positiveInt.default(1).describe("micro-batches whose gradients make one optimiser step"),

    // Data
    dataPath: z
      .string()
      .min(1)
      .default("/usr/share/datasets/fashion-mnist")
      .describe(
        "training images: an image folder (class subfolders; train/ beside test/ or val/), an IDX (Fashion-MNIST) or CIFAR folder, or a list (.txt, .lst, .csv) of paths and labels",
      ),
    maxFailureShare: probability
      .default(0.01)
      .describe("share of the images that may fail to decode (each skipped with a warning) before training stops"),
    seed: z.number().int().min(0).default(0).describe("seed of the initial weights, crops, masks and shuffling"),

    // Device and precision
    device: deviceSchema.describe('where to train: "cpu", "cuda" or "cuda:N"'),
    precision: z
      .enum(["auto", "float32", "bfloat16", "float16"])
      .default("float32")
      .describe(
        "autocast precision: float32, bfloat16, float16 (CUDA, with loss scaling), or auto (bfloat16 on CUDA and on CPUs that compute it natively, else float32)",
      ),
    threads: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe("LibTorch intra-op threads; 0 = OMP_NUM_THREADS where set, else the machine's cores (shared among the ranks on one machine)"),
    sideBySide: z
      .enum(["auto", "on", "off"])
      .default("auto")
      .describe(
        "on the CPU with 2+ threads, in one process, run the teacher's forward beside the student's and the two halves of the parameter updates side by side, one thread each; auto: on for small models (2 x batch x tokens x width of at most 2^18, as the Fashion-MNIST presets), where it is faster",
      ),

    // Data parallelism: one process per device, placed by RANK, WORLD_SIZE, MASTER_ADDR and
    // MASTER_PORT (torchrun's variables; `sere-train --nproc-per-node N` sets them).
    distTimeout: z
      .number()
      .positive()
      .default(1800)
      .describe("seconds a rank waits for the others (rendezvous, any collective) before it fails naming the rank it misses"),

    // Output and logging
    outputDir: z.string().min(1).default("runs/sere").describe("folder of the run: config.json, log.jsonl, checkpoints"),
    overwrite: z
      .boolean()
      .default(false)
      .describe(
        "start anew in an output folder that holds an earlier run, deleting its checkpoints and log (without it, or --resume, such a folder is refused)",
      ),
    saveckpFreq: z.number().int().min(0).default(40).describe("keep a numbered checkpoint every N epochs (checkpoint.pth is rewritten every epoch)"),
    maxSteps: z.number().int().min(0).default(0).describe("stop after this many iterations (quick tries and tests); 0 = no limit"),
    maxMinutes: z
      .number()
      .min(0)
      .default(0)
      .describe(
        "stop after the first step that ends this many minutes into training (k-NN evaluations during it not counted; each launch: a resumed run gets them again); the schedules stay those of --epochs; 0 = no limit",
      ),
    logEvery: positiveInt.default(10).describe("log every N iterations"),
    knnEval: z
      .boolean()
      .default(false)
      .describe(
        "after training on a labelled dataset: weighted k-NN accuracy of the teacher at k = 10, 20, 100, 200, those that do not exceed the training images (docs/method.md#weighted-k-nn)",
      ),
    knnEvalLimit: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe("evaluate on only N training and N test images, spread evenly over each split (0: all)"),
    knnEvalEvery: z
      .number()
      .int()
      .min(0)
      .default(0)
      .describe("with knnEval, also evaluate every N steps during training, after writing the checkpoint (0: at the end only); single-process runs"),
    tensorboard: z.boolean().default(true).describe("TensorBoard event files beside log.jsonl (every logged number, by step); false: none"),
  })
  .superRefine((c, ctx) => {
    if (c.arch === "custom" && (c.embedDim === undefined || c.depth === undefined || c.numHeads === undefined)) {
      ctx.addIssue({ code: "custom", path: ["arch"], message: 'arch "custom" needs embedDim, depth and numHeads' });
    }
    if (c.globalCropsSize % c.patchSize !== 0) {
      ctx.addIssue({ code: "custom", path: ["globalCropsSize"], message: `must be a multiple of patchSize (${c.patchSize})` });
    }
    if (c.localCropsNumber > 0 && c.localCropsSize % c.patchSize !== 0) {
      ctx.addIssue({ code: "custom", path: ["localCropsSize"], message: `must be a multiple of patchSize (${c.patchSize})` });
    }
    const stemIssue = c.convStem ? convStemIssue(c) : undefined;
    if (stemIssue) ctx.addIssue({ code: "custom", ...stemIssue });
    if (c.warmupEpochs > c.epochs) {
      ctx.addIssue({
        code: "custom",
        path: ["warmupEpochs"],
        message: `a warmup of ${c.warmupEpochs} epochs is longer than the run's ${c.epochs}: give at most ${c.epochs} (fractions are allowed)`,
      });
    }
    if (c.lrCooldownEpochs > 0 && c.lrSchedule !== "constant") {
      ctx.addIssue({ code: "custom", path: ["lrCooldownEpochs"], message: 'needs lrSchedule "constant" (the cosine already ends at minLr)' });
    }
    if (c.warmupEpochs + c.lrCooldownEpochs > c.epochs) {
      ctx.addIssue({ code: "custom", path: ["lrCooldownEpochs"], message: `warmup and cooldown together must not exceed epochs (${c.epochs})` });
    }
    if (c.precision === "float16" && c.device === "cpu") {
      ctx.addIssue({ code: "custom", path: ["precision"], message: 'float16 needs a CUDA device; on the CPU use "bfloat16" or "float32"' });
    }
  });

export type TrainConfig = z.output<typeof trainConfigSchema>;
export type TrainConfigInput = z.input<typeof trainConfigSchema>;
