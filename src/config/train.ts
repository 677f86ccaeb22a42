// The training configuration: one zod schema for everything a run needs. Field names are
// the reference implementation's argument names in camelCase (its `--batch_size_per_gpu`
// is `batchSizePerGpu` here and `--batch-size-per-gpu` on the command line).
import { z } from "zod";

const positiveInt = z.number().int().positive();
const probability = z.number().min(0).max(1);
const scaleRange = z
  .tuple([probability, probability])
  .refine(([a, b]) => a <= b, { message: "the first bound must not exceed the second" });

export const trainConfigSchema = z
  .object({
    // Model (spec 1)
    arch: z.enum(["vit_tiny", "vit_small", "vit_base", "vit_large", "custom"]).default("vit_small"),
    /** For arch "custom". */
    embedDim: positiveInt.optional(),
    depth: positiveInt.optional(),
    numHeads: positiveInt.optional(),
    patchSize: positiveInt.default(16),
    outDim: positiveInt.default(8192),
    hiddenDim: positiveInt.default(2048),
    bottleneckDim: positiveInt.default(256),
    normLastLayer: z.boolean().default(true),
    sharedHead: z.boolean().default(true),
    sharedHeadTeacher: z.boolean().default(true),
    dropPath: z.number().min(0).max(1).default(0.1),
    momentumTeacher: z.number().min(0).max(1).default(0.996),

    // Objective (spec 4)
    alpha: z.number().min(0).default(1),
    beta: z.number().min(0).default(1),
    lambda1: z.number().min(0).default(1),
    lambda2: z.number().min(0).default(1),
    temperaturePixel: z.number().positive().default(0.5),
    temperatureChannel: z.number().positive().default(0.1),
    overlapSize: z.tuple([positiveInt, positiveInt]).default([13, 13]),
    warmupTeacherTemp: z.number().positive().default(0.04),
    teacherTemp: z.number().positive().default(0.04),
    warmupTeacherPatchTemp: z.number().positive().default(0.04),
    teacherPatchTemp: z.number().positive().default(0.07),
    warmupTeacherTempEpochs: z.number().int().min(0).default(30),

    // Views and masks (spec 2)
    globalCropsSize: positiveInt.default(224),
    globalCropsScale: scaleRange.default([0.4, 1]),
    localCropsNumber: z.number().int().min(0).default(10),
    localCropsSize: positiveInt.default(96),
    localCropsScale: scaleRange.default([0.05, 0.4]),
    predRatio: z.tuple([probability, probability]).default([0, 0.3]),
    predRatioVar: z.tuple([probability, probability]).default([0, 0.2]),

    // Optimisation (spec 5)
    epochs: positiveInt.default(100),
    warmupEpochs: z.number().int().min(0).default(10),
    lr: z.number().positive().default(5e-4),
    minLr: z.number().min(0).default(1e-6),
    weightDecay: z.number().min(0).default(0.04),
    weightDecayEnd: z.number().min(0).default(0.4),
    clipGrad: z.number().min(0).default(3),
    freezeLastLayer: z.number().int().min(0).default(1),
    batchSizePerGpu: positiveInt.default(128),
    accumIter: positiveInt.default(1),

    // Data
    dataPath: z.string().min(1).default("/usr/share/datasets/fashion-mnist"),
    maxFailureShare: probability.default(0.01),
    seed: z.number().int().min(0).default(0),

    // Device and precision
    device: z
      .string()
      .regex(/^(cpu|cuda(:\d+)?)$/, 'expected "cpu", "cuda" or "cuda:N"')
      .default("cpu"),
    precision: z.enum(["float32", "bfloat16", "float16"]).default("float32"),
    /** LibTorch intra-op threads; 0 = the machine's cores (shared among the ranks on one machine). */
    threads: z.number().int().min(0).default(0),

    // Data parallelism: one process per device, placed by RANK, WORLD_SIZE, MASTER_ADDR and
    // MASTER_PORT (torchrun's variables; `sere-train --nproc-per-node N` sets them).
    /** Seconds a rank waits for the others (rendezvous, any collective) before it fails naming the rank it misses. */
    distTimeout: z.number().positive().default(1800),

    // Output and logging
    outputDir: z.string().min(1).default("runs/sere"),
    /** Start anew in an output folder that holds an earlier run, deleting its checkpoints and log (without it, or --resume, such a folder is refused). */
    overwrite: z.boolean().default(false),
    /** Keep a numbered checkpoint every N epochs (checkpoint.pth is rewritten every epoch). */
    saveckpFreq: z.number().int().min(0).default(40),
    /** Stop after this many iterations (quick tries and tests); 0 = no limit. */
    maxSteps: z.number().int().min(0).default(0),
    /** Log every N iterations. */
    logEvery: positiveInt.default(10),
    /** After training on a labelled dataset: weighted k-NN accuracy of the teacher (spec 9). */
    knnEval: z.boolean().default(false),
    /** Evaluate on only the first N training and N test images (0: all). */
    knnEvalLimit: z.number().int().min(0).default(0),
    /** TensorBoard event files beside log.jsonl (every logged number, by step); false: none. */
    tensorboard: z.boolean().default(true),
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
    if (c.warmupEpochs > c.epochs) {
      ctx.addIssue({ code: "custom", path: ["warmupEpochs"], message: `must not exceed epochs (${c.epochs})` });
    }
    if (c.precision === "float16" && c.device === "cpu") {
      ctx.addIssue({ code: "custom", path: ["precision"], message: 'float16 needs a CUDA device; on the CPU use "bfloat16" or "float32"' });
    }
  });

export type TrainConfig = z.output<typeof trainConfigSchema>;
export type TrainConfigInput = z.input<typeof trainConfigSchema>;
