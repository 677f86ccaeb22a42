// The tiny SERE step the step tests run: a 2-block ViT on 16 px global / 8 px local views.

import type { TrainConfigInput } from "../../src/config/train.js";
import { modelOptionsSchema } from "../../src/model/options.js";
import type { NativeStepOptions, NativeStepResult, NativeStepSchedule } from "../../src/native/surface.js";
import { resolveObjectiveOptions } from "../../src/objective/options.js";

export const TINY_ARCHITECTURE = { arch: "custom", embedDim: 16, depth: 2, numHeads: 2, patchSize: 4, imgSize: 16 } as const;
export const TINY_HEAD = { outDim: 32, hiddenDim: 16, bottleneckDim: 8, normLastLayer: false };

export function tinyStepOptions(dropPathRate = 0): NativeStepOptions {
  return {
    student: modelOptionsSchema.parse({ ...TINY_ARCHITECTURE, head: TINY_HEAD, maskedImModeling: true, dropPathRate }),
    teacher: modelOptionsSchema.parse({ ...TINY_ARCHITECTURE, head: TINY_HEAD }),
    objective: resolveObjectiveOptions({ outDim: 32 }),
    globalQuerySide: 3,
    globalKeySide: 3,
    localSide: 0,
    clipGrad: 3,
    precision: "float32",
    accumIter: 1,
    device: "cpu",
    seed: 0,
  };
}

/** `options` with a convolutional stem in both networks. */
export function withConvStem(options: NativeStepOptions): NativeStepOptions {
  return { ...options, student: { ...options.student, convStem: true }, teacher: { ...options.teacher, convStem: true } };
}

/** What a step computed, without the wall-clock seconds of its phases (which differ from run to run). */
export function stepOutcome(result: NativeStepResult): Omit<NativeStepResult, "forwardSeconds" | "backwardSeconds" | "updateSeconds"> {
  const { forwardSeconds: _forward, backwardSeconds: _backward, updateSeconds: _update, ...outcome } = result;
  return outcome;
}

export const tinySchedule: NativeStepSchedule = {
  lr: 1e-3,
  weightDecay: 0.04,
  momentum: 0.9,
  teacherTemp: 0.04,
  teacherPatchTemp: 0.04,
  freezeLastLayer: false,
};

/** A one-block ViT on 32 px views (and 16 px local views): a step takes milliseconds. The reference's patch embedding, whatever the preset's. */
export const TINY_NETWORK = {
  arch: "custom",
  embedDim: 24,
  depth: 1,
  numHeads: 2,
  patchSize: 8,
  convStem: false,
  outDim: 64,
  hiddenDim: 32,
  bottleneckDim: 16,
  globalCropsSize: 32,
  localCropsNumber: 2,
  localCropsSize: 16,
  overlapSize: [4, 4],
} as const satisfies TrainConfigInput;

/** A one-step run of TINY_NETWORK, 4 images a batch. */
export const TINY_RUN = {
  ...TINY_NETWORK,
  batchSizePerGpu: 4,
  precision: "float32",
  maxSteps: 1,
  knnEval: false,
} as const satisfies TrainConfigInput;

/** A one-block ViT on 16 px views of 8 px patches (2 x 2 tokens), 4 images a batch: a run over a handful of images. */
export const MICRO_RUN = {
  arch: "custom",
  embedDim: 16,
  depth: 1,
  numHeads: 2,
  patchSize: 8,
  outDim: 32,
  hiddenDim: 16,
  bottleneckDim: 8,
  globalCropsSize: 16,
  localCropsNumber: 0,
  batchSizePerGpu: 4,
  precision: "float32",
} as const satisfies TrainConfigInput;
