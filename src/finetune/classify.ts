// Classification with a fine-tuned network: the accuracy on a labelled split (each epoch of
// fine-tuning, and `sere eval classify` on a fine-tuning checkpoint).

import { z } from "zod";

import { type FinetuneConfig, finetuneConfigSchema } from "../config/finetune.js";
import { ConfigError, parseOptions } from "../config/parse.js";
import type { Dataset } from "../data/datasets/dataset.js";
import { DEFAULT_MAX_FAILURE_SHARE } from "../data/failures.js";
import { NO_NORMALISATION } from "../data/render.js";
import { type ExtractedFeatures, extractFeatures } from "../eval/features.js";
import { torchLoad } from "../io/torch-load.js";
import { modelOptionsSchema, type ResolvedModelOptions } from "../model/options.js";
import { native } from "../native/load.js";
import type { NativeFinetuneStep } from "../native/surface.js";
import { type Tensor, tensor } from "../tensor.js";
import { asMap, checkpointKind, entries, runOf } from "../train/checkpoint.js";
import { topAccuracy } from "./accuracy.js";
import { finetuneStepOptions } from "./step-options.js";

export interface ClassifyOptions {
  /** Side of the centre crops. */
  size: number;
  device: string;
  /** Only `limit` images, spread evenly over the dataset (0: all). */
  limit?: number;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** Share of the images that may fail to decode (each skipped) before it stops; default 1%. */
  maxFailureShare?: number;
  /** Also the accuracy of the weights' moving average, from the same pass over the images. */
  withAverage?: boolean;
  /** Told of each image skipped because it cannot be decoded. */
  warn?: (message: string) => void;
}

export interface Accuracy {
  top1: number;
  top5: number;
}

/** Logits of the weights and of their moving average, side by side: (B, 2 x classes). */
async function bothLogits(step: NativeFinetuneStep, images: Tensor): Promise<Tensor> {
  const [weights, average] = [await step.logits(images), await step.logits(images, true)];
  const [rows, classes] = weights.shape() as [number, number];
  const [a, b] = [weights.toArray() as Float32Array, average.toArray() as Float32Array];
  weights.dispose();
  average.dispose();
  const out = new Float32Array(rows * 2 * classes);
  for (let r = 0; r < rows; r++) {
    out.set(a.subarray(r * classes, (r + 1) * classes), r * 2 * classes);
    out.set(b.subarray(r * classes, (r + 1) * classes), (r * 2 + 1) * classes);
  }
  return tensor(out, [rows, 2 * classes]);
}

const cropSideSchema = z.object({ size: z.number().int().positive() });

/** The logits `embed` gives each image of `dataset` that decodes: DINO's centre crops, which the step normalises. */
export function logitsOf(dataset: Dataset, embed: (images: Tensor) => Promise<Tensor>, o: ClassifyOptions): Promise<ExtractedFeatures> {
  return extractFeatures(dataset, embed, {
    size: o.size,
    batchSize: o.batchSize ?? 256,
    device: o.device,
    limit: o.limit, // checked there: 0 is all, a negative limit refused
    maxFailureShare: o.maxFailureShare ?? DEFAULT_MAX_FAILURE_SHARE,
    normalisation: NO_NORMALISATION,
    onProgress: o.onProgress,
    signal: o.signal,
    warn: o.warn,
  });
}

/**
 * Top-1 / top-5 accuracy (percent) on `dataset`: DINO's centre crops, logits in evaluation mode;
 * with `withAverage`, the moving average's too, the images decoded once for both.
 */
export async function testAccuracy(step: NativeFinetuneStep, dataset: Dataset, o: ClassifyOptions): Promise<Accuracy & { average?: Accuracy }> {
  // no default: crops of another side than the classifier's input would score other images
  parseOptions(cropSideSchema, { size: o.size }, "testAccuracy options (size: the side of the centre crops, the classifier's OpenedClassifier.size)");
  const embed = o.withAverage ? (images: Tensor) => bothLogits(step, images) : (images: Tensor) => step.logits(images);
  const { features: logits, labels } = await logitsOf(dataset, embed, o);
  try {
    if (!o.withAverage) return topAccuracy(logits, labels);
    const classes = logits.shape()[1]! / 2;
    return { ...topAccuracy(logits, labels, { from: 0, count: classes }), average: topAccuracy(logits, labels, { from: classes, count: classes }) };
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
  /** Its outputs, and the class names of the data it was fine-tuned on (absent in checkpoints that predate them). */
  numClasses: number;
  classes?: string[];
}

/** The network and input size a fine-tuning checkpoint (`root`, read from `path`) stores beside its weights. */
export function storedClassifierShape(root: Map<unknown, unknown>, path: string): { network: ResolvedModelOptions; size: number } {
  const network = root.get("network");
  const size = Number(root.get("input_size"));
  if (typeof network !== "string" || !Number.isInteger(size) || size <= 0) {
    throw new ConfigError(
      `${path} stores no network and input size beside its weights: give the checkpoint.pth or best.pth a fine-tuning run writes`,
    );
  }
  return { network: parseOptions(modelOptionsSchema, JSON.parse(network), `${path}: its stored architecture`), size };
}

/** The classifier of a fine-tuning checkpoint (checkpoint.pth or best.pth of a `sere finetune` run). */
export async function openFinetuned(path: string, device: string): Promise<OpenedClassifier> {
  const root = await torchLoad(path);
  const stored = (key: string) => (root instanceof Map ? root.get(key) : undefined);
  if (!(stored("model") instanceof Map) || typeof stored("config") !== "string" || typeof stored("network") !== "string") {
    const pretraining = (await checkpointKind(path)) === "pretraining";
    throw new ConfigError(
      pretraining
        ? `${path} is ${runOf("pretraining")} checkpoint, which classifies nothing: fine-tune it first (sere finetune --pretrained-weights ${path}), then give its checkpoint.pth or best.pth`
        : `${path} is not a sere finetune checkpoint (it has no "model", "config" and "network"); give the checkpoint.pth or best.pth a fine-tuning run writes`,
    );
  }
  const config = parseOptions(finetuneConfigSchema, JSON.parse(stored("config") as string), `${path}: its stored configuration`);
  const { network, size } = storedClassifierShape(root as Map<unknown, unknown>, path);
  const model = await entries(asMap(stored("model"), '"model"', path), path);
  // Scoring needs the weights alone: no moving average kept beside them.
  const step = new (native().FinetuneStep)({ ...finetuneStepOptions(config, network, Number(stored("num_classes")), device), emaDecay: 0 });
  try {
    await step.restore({ model, optimizer: [], iteration: 0 });
  } catch (err) {
    step.dispose();
    throw err;
  } finally {
    for (const [, t] of model) t.dispose();
  }
  const names = stored("class_names");
  return {
    step,
    size,
    config,
    numClasses: Number(stored("num_classes")),
    ...(typeof names === "string" ? { classes: JSON.parse(names) as string[] } : {}),
  };
}

/** "a, b, c" or "a, b, c, d, e and 5 more" */
const someNames = (names: readonly string[]) =>
  names.length > 5 ? `${names.slice(0, 5).join(", ")} and ${names.length - 5} more` : names.join(", ");

/**
 * Refuses data whose classes are not the classifier's: scored against other labels, its
 * outputs would give an accuracy that measures nothing. Numbered labels without names are
 * checked by their count.
 */
export function checkSameClasses(classifier: Pick<OpenedClassifier, "numClasses" | "classes">, dataset: Dataset, path: string): void {
  const named = classifier.classes !== undefined && classifier.classes.length > 0;
  const same = named ? JSON.stringify(classifier.classes) === JSON.stringify(dataset.classes) : dataset.classes.length === classifier.numClasses;
  if (dataset.classes.length === 0 || same) return;
  const theirs = named ? `the ${classifier.classes!.length} classes ${someNames(classifier.classes!)}` : `${classifier.numClasses} classes`;
  throw new ConfigError(
    `${path} classifies ${theirs}, but ${dataset.path} has ${dataset.classes.length}: ${someNames(dataset.classes)}; ` +
      "give the data it was fine-tuned on (the same classes, in the same order), or fine-tune on this data",
  );
}
