// The native fine-tuning step's options, from a fine-tuning configuration: one place for the
// run that trains (src/finetune/finetuner.ts) and the command that scores its checkpoints
// (src/finetune/classify.ts).
import type { FinetuneConfig } from "../config/finetune.js";
import { IMAGENET_NORMALISATION } from "../data/render.js";
import type { ResolvedModelOptions } from "../model/options.js";
import type { NativeFinetuneOptions } from "../native/surface.js";

export function finetuneStepOptions(c: FinetuneConfig, network: ResolvedModelOptions, numClasses: number, device: string): NativeFinetuneOptions {
  return {
    network: { ...network, dropPathRate: c.dropPath, device },
    numClasses,
    meanPooling: c.pooling === "mean",
    initScale: c.initScale,
    layerDecay: c.layerDecay,
    clipGrad: c.clipGrad,
    labelSmoothing: c.smoothing,
    emaDecay: c.modelEma ? c.modelEmaDecay : 0,
    normalisation: IMAGENET_NORMALISATION,
    precision: c.precision,
    device,
    seed: c.seed,
  };
}
