// Features of a dataset for evaluation (docs/method.md#evaluation): each image resized and centre-cropped by
// DINO's rule (resize the shorter side to 256/224 of the input size, crop the centre), or,
// for training a linear probe, a random resized crop with a random flip (DINO's training
// transform); normalised and embedded in batches on the device. Images that cannot be
// decoded are skipped and named, as in training (src/data/failures.ts).

import { z } from "zod";

import { describeKind, parseOptions } from "../config/parse.js";
import { CENTRE_CROP_SHARE, CROP_RATIO, randomResizedCrop } from "../data/crops.js";
import { type Dataset, requireDataset, spreadSubset } from "../data/datasets/dataset.js";
import { DecodeError, type DetailToKeep } from "../data/decode.js";
import { DEFAULT_MAX_FAILURE_SHARE, DecodeFailures } from "../data/failures.js";
import { Random } from "../data/random.js";
import { IMAGENET_NORMALISATION, type RgbImage, renderGroups } from "../data/render.js";
import type { Model } from "../model/model.js";
import { deviceSchema } from "../model/options.js";
import { isTensor } from "../objective/check.js";
import { type Tensor, tensor } from "../tensor.js";

export type Embed = (images: Tensor) => Promise<Tensor>;

const threeNumbers = z.tuple([z.number(), z.number(), z.number()]).readonly();

/** The extraction's own options, checked (the callbacks of FeatureOptions aside). */
export const featureOptionsSchema = z.object({
  /** Input side. */
  size: z.number().int().positive().default(224),
  batchSize: z.number().int().positive().default(256),
  /** Where images are resized (the model's device is where they are embedded). */
  device: deviceSchema,
  /** Only `limit` images, spread evenly over the dataset (spreadSubset); 0 or absent: all, as the CLI's --limit 0. */
  limit: z.number().int().min(0).optional(),
  normalisation: z
    .object({ mean: threeNumbers, std: threeNumbers.refine((std) => std.every((v) => v > 0), "must be positive") })
    .default(IMAGENET_NORMALISATION),
  /**
   * Instead of the centre crop: torchvision's RandomResizedCrop (scale 0.08-1) and a flip
   * with probability 0.5, drawn from Random.seeded(seed, view, image index).
   */
  augment: z.object({ seed: z.number().int().min(0), view: z.number().int().min(0) }).optional(),
  /** Share of the images that may fail to decode (each skipped) before extraction stops; training's default. */
  maxFailureShare: z.number().min(0).max(1).default(DEFAULT_MAX_FAILURE_SHARE),
});

/** What watches an extraction: not checked, only called. */
export interface ExtractionWatch {
  /** Told once which images were skipped; default: process.emitWarning. */
  warn?: (message: string) => void;
  /** Stops the extraction before the next batch: it rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Told the images read so far (decoded or skipped) of `total`, at the start and after each batch. */
  onProgress?: (done: number, total: number) => void;
}

export type FeatureOptions = z.input<typeof featureOptionsSchema> & ExtractionWatch;

/** Features (N, D) and labels (N) of the images that decoded, `images` naming them row by row; `skipped` names the others' files. */
export interface ExtractedFeatures {
  features: Tensor;
  labels: Tensor;
  images: string[];
  skipped: string[];
}

/** Which tokens make an image's feature vector (DINO's linear evaluation flags). */
export interface TokenChoice {
  /** The CLS tokens of the last n blocks (each after the final norm), concatenated; default 1. */
  nLastBlocks?: number;
  /** Also the mean of the last block's patch tokens, appended. */
  avgpoolPatchtokens?: boolean;
}

/**
 * The backbone's CLS token after the final norm; with `choice`, the CLS tokens of the last
 * n blocks and optionally the mean patch token, concatenated: (B, (n + avgpool) * D).
 */
export function clsFeatures(model: Model, choice: TokenChoice = {}): Embed {
  const n = choice.nLastBlocks ?? 1;
  if (n === 1 && !choice.avgpoolPatchtokens) return (images) => model.features(images);
  return (images) => model.evaluationFeatures(images, { nLastBlocks: n, avgpoolPatchtokens: choice.avgpoolPatchtokens ?? false });
}

/** The normalised pixels themselves, flattened: the baseline a pretrained model must beat. */
export const pixelFeatures: Embed = async (images) => {
  const [batch, ...rest] = images.shape();
  return images.reshape([batch!, rest.reduce((a, b) => a * b, 1)]);
};

/** DINO's centre crop of `image` (shorter side * 224 / 256, centred) as a box row. */
export function centreCrop(index: number, image: RgbImage): number[] {
  const side = Math.max(1, Math.round(Math.min(image.width, image.height) * CENTRE_CROP_SHARE));
  return [index, Math.floor((image.width - side) / 2), Math.floor((image.height - side) / 2), side, side, 0];
}

/** DINO's linear probe's RandomResizedCrop scale. */
const AUGMENTED_SCALE: readonly [number, number] = [0.08, 1];

/** A training crop as a box row: RandomResizedCrop (DINO's linear probe's scale by default) and a flip with probability `flip`. */
export function augmentedCrop(
  index: number,
  image: RgbImage,
  random: Random,
  scale: readonly [number, number] = AUGMENTED_SCALE,
  flip = 0.5,
): number[] {
  const box = randomResizedCrop(image.width, image.height, scale, CROP_RATIO, () => random.next());
  return [index, box.x, box.y, box.width, box.height, random.next() < flip ? 1 : 0];
}

/** Decodes the images at `indices`; those that cannot be decoded are left out and recorded. */
export async function loadImages(dataset: Dataset, indices: number[], failures: DecodeFailures, skipped: DecodeError[], detail?: DetailToKeep) {
  const loaded = await Promise.all(
    indices.map(async (index) => {
      try {
        return { index, image: await dataset.load(index, detail) };
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        return { index, error: err };
      }
    }),
  );
  const images: Array<{ index: number; image: RgbImage }> = [];
  for (const { index, image, error } of loaded) {
    if (image) images.push({ index, image });
    else {
      skipped.push(error!);
      failures.add(index, error!.reason);
    }
  }
  return images;
}

/**
 * The values of what `embed` gave for a batch of `rows` images, checked to be what the features
 * need: a Tensor of `rows` rows of floats, each `width` wide (that of the batches before) where
 * given. The tensor is disposed.
 */
function embeddedRows(embedded: unknown, rows: number, width: number | undefined): Float32Array | Float64Array {
  const wanted = `the embed function must return a Tensor (${rows}, ${width ?? "D"}) of floats for a batch of ${rows} images: one feature row per image`;
  if (!isTensor(embedded)) throw new TypeError(`${wanted}; it returned ${describeKind(embedded)}`);
  try {
    const shape = embedded.shape();
    if (shape.length !== 2 || shape[0] !== rows || (width !== undefined && shape[1] !== width)) {
      const earlier = width !== undefined ? ` (the batches before were ${width} wide)` : "";
      throw new RangeError(`${wanted}${earlier}; it returned one of shape [${shape.join(", ")}]`);
    }
    const values = embedded.toArray();
    if (!(values instanceof Float32Array || values instanceof Float64Array)) throw new TypeError(`${wanted}; it returned ${embedded.dtype()} values`);
    return values;
  } finally {
    embedded.dispose();
  }
}

export async function extractFeatures(dataset: Dataset, embed: Embed, options: FeatureOptions = {}): Promise<ExtractedFeatures> {
  requireDataset(dataset, "extractFeatures");
  const { warn: warnWith, signal, onProgress, ...fields } = options;
  const o = parseOptions(featureOptionsSchema, fields, "feature options", { knownFieldsOnly: true });
  const { size, batchSize, augment } = o;
  const chosen = spreadSubset(dataset.size, o.limit || undefined);
  const count = chosen.length;
  const failures = new DecodeFailures(dataset, count, o.maxFailureShare, "the");
  const skipped: DecodeError[] = [];
  let features: Float32Array | undefined;
  let dim = 0;
  let rows = 0; // images embedded so far
  const labels = new BigInt64Array(count);
  const names: string[] = [];
  const warn = warnWith ?? ((message: string) => process.emitWarning(message, "DataWarning"));
  if (dataset.leftOut) warn(dataset.leftOut);
  onProgress?.(0, count);
  // decoded no larger than the crop needs: a 12-megapixel photo is not held whole, a batch at a time
  const detail = { size, minScale: augment ? AUGMENTED_SCALE[0] : undefined };
  for (let start = 0; start < count; start += batchSize) {
    signal?.throwIfAborted();
    const loaded = await loadImages(dataset, chosen.slice(start, start + batchSize), failures, skipped, detail);
    if (loaded.length === 0) continue;
    const indices = loaded.map((l) => l.index);
    const images = loaded.map((l) => l.image);
    const boxes = Int32Array.from(
      images.flatMap((image, i) =>
        augment ? augmentedCrop(i, image, Random.seeded(augment.seed, augment.view, indices[i]!)) : centreCrop(i, image),
      ),
    );
    const colour = new Float32Array(images.length * 12); // no photometric change
    const [views] = await renderGroups(images, [{ size, boxes, colour }], o.normalisation, o.device);
    let values: Float32Array | Float64Array;
    try {
      values = embeddedRows(await embed(views!), images.length, features ? dim : undefined);
    } finally {
      views!.dispose();
    }
    dim = values.length / images.length;
    features ??= new Float32Array(count * dim);
    features.set(values, rows * dim);
    indices.forEach((index, i) => {
      labels[rows + i] = BigInt(dataset.label(index));
      names.push(dataset.describe(index));
    });
    rows += indices.length;
    onProgress?.(Math.min(start + batchSize, count), count);
  }
  if (count > 0 && rows === 0) throw failures.noneDecoded();
  if (skipped.length > 0) {
    warn(`skipped ${skipped.length} of ${count} images that cannot be decoded: ${skipped.map((e) => e.message).join("; ")}`);
  }
  return {
    features: tensor((features ?? new Float32Array(0)).subarray(0, rows * dim), [rows, dim]),
    labels: tensor(labels.subarray(0, rows), [rows]),
    images: names,
    skipped: skipped.map((e) => e.file),
  };
}
