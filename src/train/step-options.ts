// A training configuration -> the options of the native step (student, teacher, objective).

import type { TrainConfig } from "../config/train.js";
import { modelOptionsSchema } from "../model/options.js";
import { hasNativeBfloat16 } from "../native/cpu.js";
import type { NativeStepOptions } from "../native/surface.js";
import { resolveObjectiveOptions } from "../objective/options.js";
import { architectureOf } from "./backbone.js";

/**
 * The precision a configuration's step runs at: "auto" is bfloat16 where it is fast (CUDA, and
 * CPUs with native bfloat16 arithmetic), else float32 (emulated bfloat16 was measured 1.7x slower).
 */
export function stepPrecision(
  c: Pick<TrainConfig, "precision" | "device">,
  nativeBfloat16: boolean = hasNativeBfloat16(),
): "float32" | "bfloat16" | "float16" {
  if (c.precision !== "auto") return c.precision;
  return c.device.startsWith("cuda") || nativeBfloat16 ? "bfloat16" : "float32";
}

/**
 * Whether the CPU step runs the teacher's forward beside the student's, and the two halves of the
 * parameter updates side by side ("auto": for small models). Side by side, each has one intra-op
 * thread: that pays where ops are too small to split well over threads (the Fashion-MNIST
 * network's step at 32 px, 2 x 32 x 17 tokens x 96: 1.15x the speed on 2 cores) and costs where
 * they are not (vit_tiny at 224 px, 2 x 8 x 197 x 192: 0.92x the speed with the forwards side
 * by side, and both forwards' activations held at once). The line is a value count per layer
 * between them.
 */
export function sideBySide(
  c: Pick<TrainConfig, "sideBySide" | "device" | "batchSizePerGpu" | "globalCropsSize" | "patchSize">,
  embedDim: number,
): boolean {
  if (c.sideBySide !== "auto") return c.sideBySide === "on";
  if (c.device !== "cpu") return false;
  const tokens = Math.floor(c.globalCropsSize / c.patchSize) ** 2 + 1;
  return 2 * c.batchSizePerGpu * tokens * embedDim <= 2 ** 18;
}

export function stepOptionsFrom(c: TrainConfig): NativeStepOptions {
  const architecture = { ...architectureOf(c), seed: c.seed };
  const head = { outDim: c.outDim, hiddenDim: c.hiddenDim, bottleneckDim: c.bottleneckDim };
  // The student masks its global views and drops paths; the teacher does neither.
  const student = modelOptionsSchema.parse({
    ...architecture,
    maskedImModeling: true,
    dropPathRate: c.dropPath,
    head: { ...head, normLastLayer: c.normLastLayer, sharedHead: c.sharedHead },
  });
  return {
    student,
    teacher: modelOptionsSchema.parse({ ...architecture, head: { ...head, sharedHead: c.sharedHeadTeacher } }),
    // The centres' momentum is not a training flag: the objective's default.
    objective: resolveObjectiveOptions({
      outDim: c.outDim,
      studentTemp: c.studentTemp,
      spatialTeacherTemp: c.temperaturePixel,
      channelTeacherTemp: c.temperatureChannel,
      lambda1: c.lambda1,
      lambda2: c.lambda2,
      alpha: c.alpha,
      beta: c.beta,
    }),
    globalQuerySide: c.overlapSize[0],
    globalKeySide: c.overlapSize[1],
    localSide: 0,
    clipGrad: c.clipGrad,
    precision: stepPrecision(c),
    accumIter: c.accumIter,
    device: c.device,
    seed: c.seed,
    sideBySide: sideBySide(c, student.embedDim),
  };
}
