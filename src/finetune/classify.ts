// Classification with a fine-tuned network: the accuracy on a labelled split (each epoch of
// fine-tuning, and `sere eval classify` on a fine-tuning checkpoint).

import { type FinetuneConfig, finetuneConfigSchema } from "../config/finetune.js";
import { ConfigError, parseOptions } from "../config/parse.js";
import type { Dataset } from "../data/datasets/dataset.js";
import { DEFAULT_MAX_FAILURE_SHARE } from "../data/failures.js";
import { IMAGENET_NORMALISATION, NO_NORMALISATION } from "../data/render.js";
import { extractFeatures } from "../eval/features.js";
import { torchLoad } from "../io/torch-load.js";
import { modelOptionsSchema } from "../model/options.js";
import { native } from "../native/load.js";
import type { NativeFinetuneStep } from "../native/surface.js";
import { asMap, entries } from "../train/checkpoint.js";
import { topAccuracy } from "./accuracy.js";

export interface ClassifyOptions {
  /** Side of the centre crops. */
  size: number;
  device: string;
  /** Only the first `limit` images (0: all). */
  limit?: number;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** The weights' moving average instead of the weights. */
  ema?: boolean;
}

/** Top-1 / top-5 accuracy (percent) on `dataset`: DINO's centre crops, logits in evaluation mode. */
export async function testAccuracy(step: NativeFinetuneStep, dataset: Dataset, o: ClassifyOptions): Promise<{ top1: number; top5: number }> {
  const { features: logits, labels } = await extractFeatures(dataset, (images) => step.logits(images, o.ema ?? false), {
    size: o.size,
    batchSize: o.batchSize ?? 256,
    device: o.device,
    limit: o.limit && o.limit > 0 ? o.limit : undefined,
    maxFailureShare: DEFAULT_MAX_FAILURE_SHARE,
    normalisation: NO_NORMALISATION, // the step normalises
    onProgress: o.onProgress,
    signal: o.signal,
  });
  try {
    return topAccuracy(logits, labels);
  } finally {
    logits.dispose();
    labels.dispose();
  }
}

export interface OpenedClassifier {
  step: NativeFinetuneStep;
  /** The side it was fine-tuned at. */
  size: number;
  config: FinetuneConfig;
}

/** The classifier of a fine-tuning checkpoint (checkpoint.pth or best.pth of a `sere finetune` run). */
export async function openFinetuned(path: string, device: string): Promise<OpenedClassifier> {
  const root = await torchLoad(path);
  const stored = (key: string) => (root instanceof Map ? root.get(key) : undefined);
  if (!(stored("model") instanceof Map) || typeof stored("config") !== "string" || typeof stored("network") !== "string") {
    throw new ConfigError(
      `${path} is not a sere finetune checkpoint (it has no "model", "config" and "network"); give the checkpoint.pth or best.pth a fine-tuning run writes`,
    );
  }
  const config = parseOptions(finetuneConfigSchema, JSON.parse(stored("config") as string), `${path}: its stored configuration`);
  const network = parseOptions(modelOptionsSchema, JSON.parse(stored("network") as string), `${path}: its stored architecture`);
  const model = entries(asMap(stored("model"), '"model"', path), path);
  const step = new (native().FinetuneStep)({
    network: { ...network, device },
    numClasses: Number(stored("num_classes")),
    meanPooling: config.pooling === "mean",
    initScale: config.initScale,
    layerDecay: config.layerDecay,
    clipGrad: config.clipGrad,
    labelSmoothing: config.smoothing,
    normalisation: IMAGENET_NORMALISATION,
    precision: config.precision,
    device,
  });
  try {
    await step.restore({ model, optimizer: [], iteration: 0 });
  } catch (err) {
    step.dispose();
    throw err;
  } finally {
    for (const [, t] of model) t.dispose();
  }
  return { step, size: Number(stored("input_size")), config };
}
