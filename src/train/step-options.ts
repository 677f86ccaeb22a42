// A training configuration -> the options of the native step (student, teacher, objective).
import { modelOptionsSchema } from "../model/options.js";
import type { NativeStepOptions } from "../native/surface.js";
import type { TrainConfig } from "../config/train.js";
import { architectureOf } from "./backbone.js";

export function stepOptionsFrom(c: TrainConfig): NativeStepOptions {
  const architecture = { ...architectureOf(c), seed: c.seed };
  const head = { outDim: c.outDim, hiddenDim: c.hiddenDim, bottleneckDim: c.bottleneckDim };
  return {
    // The student masks its global views and drops paths; the teacher does neither.
    student: modelOptionsSchema.parse({
      ...architecture,
      maskedImModeling: true,
      dropPathRate: c.dropPath,
      head: { ...head, normLastLayer: c.normLastLayer, sharedHead: c.sharedHead },
    }),
    teacher: modelOptionsSchema.parse({ ...architecture, head: { ...head, sharedHead: c.sharedHeadTeacher } }),
    objective: {
      outDim: c.outDim,
      studentTemp: 0.1,
      centreMomentum: 0.9,
      spatialTeacherTemp: c.temperaturePixel,
      channelTeacherTemp: c.temperatureChannel,
      lambda1: c.lambda1,
      lambda2: c.lambda2,
      alpha: c.alpha,
      beta: c.beta,
    },
    globalQuerySide: c.overlapSize[0],
    globalKeySide: c.overlapSize[1],
    localSide: 0,
    clipGrad: c.clipGrad,
    precision: c.precision,
    accumIter: c.accumIter,
    device: c.device,
    seed: c.seed,
  };
}
