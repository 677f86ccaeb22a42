// Fine-tuning: the project's classification step (a FinetuneStep: normalisation, mixup with the
// flipped batch and label-smoothed targets, the ViT classifier's forward, soft-target
// cross-entropy, backward, AdamW with layer-wise lr decay) against an eager PyTorch step of the
// same math (bench/eager_finetune_step.py, iBOT's and BEiT's classification code, Debian's
// python3-torch), side by side. Every measurement is its own process
// (bench/native-finetune-step.ts, eager_finetune_step.py), the two sides alternating round by
// round, with the environment of bench/train.ts (the same OpenBLAS kernels and OpenMP waiting on
// both sides). Synthetic images and labels; the same batch every step; 2 threads.
//
//   npm run bench -- finetune
//   SERE_BENCH_ROUNDS=1 SERE_BENCH_WARMUP=0 SERE_BENCH_STEPS=1 npm run bench -- finetune   (quick)
//   SERE_BENCH_CASES=fashion,bf16 npm run bench -- finetune   (cases whose names contain one)
//
// Per case: seconds per step of each side (median over all timed steps of all rounds, min, max,
// per-round medians), images per second, speed ratio eager / native (above 1: the project is
// faster), peak RSS of each side (the largest over its processes) and memory ratio native /
// eager, and the load average before and after it: run it on an otherwise idle machine (see
// bench/train.ts on what other work costs the sides at 2 threads on 2 cores).
import { loadavg } from "node:os";

import { alternate, runEagerScript, runNativeScript, type StepTimes, schedule, stepEnvironment, summary, wanted } from "./train.js";

/** One fine-tuning case, as both bench/native-finetune-step.ts and bench/eager_finetune_step.py read it. */
export interface FinetuneCase {
  embedDim: number;
  depth: number;
  numHeads: number;
  patchSize: number;
  /** Side of the (square) images; the classifier's pos_embed is built for it. */
  size: number;
  classes: number;
  batch: number;
  /** The mean patch token under fc_norm instead of the CLS token. */
  meanPooling: boolean;
  layerDecay: number;
  /** The mixup weight of every step: the batch * lambda + its flip * (1 - lambda). */
  mixLambda: number;
  /** float16 only on CUDA (with the loss scale). */
  precision: "float32" | "bfloat16" | "float16";
  threads: number;
  warmup: number;
  steps: number;
  /** Where both sides run: "cpu" when absent, or "cuda" / "cuda:N". */
  device?: string;
}

/** The fields of a fine-tuning case, which both sides require. */
export const FINETUNE_CASE_FIELDS = [
  "embedDim",
  "depth",
  "numHeads",
  "patchSize",
  "size",
  "classes",
  "batch",
  "meanPooling",
  "layerDecay",
  "mixLambda",
  "precision",
  "threads",
  "warmup",
  "steps",
] as const satisfies ReadonlyArray<keyof FinetuneCase>;

export function runNativeFinetuneStep(c: FinetuneCase, timeoutMs = 0): Promise<StepTimes> {
  return runNativeScript("bench/native-finetune-step.ts", c, timeoutMs);
}

export function runEagerFinetuneStep(c: FinetuneCase, timeoutMs = 0): Promise<StepTimes> {
  return runEagerScript("bench/eager_finetune_step.py", c, timeoutMs);
}

type CaseShape = Omit<FinetuneCase, "threads" | "warmup" | "steps" | "device">;

const VIT_TINY = (precision: "float32" | "bfloat16"): CaseShape => ({
  embedDim: 192,
  depth: 12,
  numHeads: 3,
  patchSize: 16,
  size: 224,
  classes: 1000,
  batch: 32,
  meanPooling: false,
  layerDecay: 0.65,
  mixLambda: 0.7,
  precision,
});
// The fine-tuning demo's network (the fashion-mnist-tiny-finetune preset's shape, without its convolutional stem, which the eager step does not build).
const FASHION: CaseShape = {
  embedDim: 96,
  depth: 4,
  numHeads: 3,
  patchSize: 8,
  size: 32,
  classes: 10,
  batch: 64,
  meanPooling: false,
  layerDecay: 0.75,
  mixLambda: 0.7,
  precision: "float32",
};

// Rounds and steps per process (SERE_BENCH_ROUNDS / _WARMUP / _STEPS override them), for about
// 5-10 minutes on 2 cores: a vit_tiny step takes some 3-5 s in fp32 and 7-11 s in bf16 there
// (2 x 2 x 6 steps each), a fashion-mnist-tiny one about 0.1 s.
const VIT_RUNS = { rounds: 2, warmup: 1, steps: 5 };
const CASES: Array<{ name: string; shape: CaseShape; runs: { rounds: number; warmup: number; steps: number } }> = [
  { name: "vit_tiny/16 224 b32 1000 classes fp32", shape: VIT_TINY("float32"), runs: VIT_RUNS },
  { name: "vit_tiny/16 224 b32 1000 classes bf16", shape: VIT_TINY("bfloat16"), runs: VIT_RUNS },
  { name: "fashion-mnist-tiny-finetune 32 px b64 fp32", shape: FASHION, runs: { rounds: 3, warmup: 5, steps: 30 } },
];
const THREADS = 2;

export async function run(): Promise<object> {
  const sideBySide: Record<string, object> = {};
  const openBlasCoreType = stepEnvironment().OPENBLAS_CORETYPE ?? "OpenBLAS's own choice";
  for (const { name, shape, runs } of CASES.filter((c) => wanted(c.name))) {
    const { rounds, warmup, steps } = schedule(runs);
    const c: FinetuneCase = { ...shape, threads: THREADS, warmup, steps };
    const loadBefore = loadavg()[0]!;
    const [native, eager] = await alternate(
      name,
      [
        ["native", () => runNativeFinetuneStep(c)],
        ["eager", () => runEagerFinetuneStep(c)],
      ],
      rounds,
      "finetune",
    );
    const n = summary(native!, c.batch);
    const e = summary(eager!, c.batch);
    sideBySide[name] = {
      native: n,
      eager: e,
      speedRatio: e.secondsPerStep.median / n.secondsPerStep.median,
      memoryRatio: n.peakRssMiB / e.peakRssMiB,
      rounds,
      stepsPerProcess: { warmup, timed: steps },
      // Other work slows the sides unequally: trust the ratios where this stayed near 2 (the bench's own threads).
      loadAverage: { before: loadBefore, after: loadavg()[0]! },
    };
  }
  return { openBlasCoreType, sideBySide };
}
