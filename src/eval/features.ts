// Features of a dataset for evaluation (docs/method.md#evaluation): each image resized and centre-cropped by
// DINO's rule (resize the shorter side to 256/224 of the input size, crop the centre), or,
// for training a linear probe, a random resized crop with a random flip (DINO's training
// transform); normalised and embedded in batches on the device. Images that cannot be
// decoded are skipped and named, as in training (src/data/failures.ts).

import { CROP_RATIO, randomResizedCrop } from "../data/crops.js";
import type { Dataset } from "../data/datasets/dataset.js";
import { DecodeError } from "../data/decode.js";
import { DEFAULT_MAX_FAILURE_SHARE, DecodeFailures } from "../data/failures.js";
import { Random } from "../data/random.js";
import { IMAGENET_NORMALISATION, type Normalisation, type RgbImage, renderGroups } from "../data/render.js";
import type { Model } from "../model/model.js";
import { type Tensor, tensor } from "../tensor.js";

export type Embed = (images: Tensor) => Promise<Tensor>;

export interface FeatureOptions {
  /** Input side; default 224. */
  size?: number;
  batchSize?: number;
  /** Where images are resized (the model's device is where they are embedded). */
  device?: string;
  /** Only the first `limit` images. */
  limit?: number;
  normalisation?: Normalisation;
  /**
   * Instead of the centre crop: torchvision's RandomResizedCrop (scale 0.08-1) and a flip
   * with probability 0.5, drawn from Random.seeded(seed, view, image index).
   */
  augment?: { seed: number; view: number };
  /** Share of the images that may fail to decode (each skipped) before extraction stops; default 0.01, as training's. */
  maxFailureShare?: number;
  /** Told once which images were skipped; default: process.emitWarning. */
  warn?: (message: string) => void;
  /** Stops the extraction before the next batch: it rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Told the images read so far (decoded or skipped) of `total`, at the start and after each batch. */
  onProgress?: (done: number, total: number) => void;
}

/** Features (N, D) and labels (N) of the images that decoded; `skipped` names the others' files. */
export interface ExtractedFeatures {
  features: Tensor;
  labels: Tensor;
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
  const side = Math.max(1, Math.round((Math.min(image.width, image.height) * 224) / 256));
  return [index, Math.floor((image.width - side) / 2), Math.floor((image.height - side) / 2), side, side, 0];
}

/** A training crop as a box row: RandomResizedCrop (DINO's linear probe: scale 0.08-1) and a flip with probability `flip`. */
export function augmentedCrop(index: number, image: RgbImage, random: Random, scale: readonly [number, number] = [0.08, 1], flip = 0.5): number[] {
  const box = randomResizedCrop(image.width, image.height, scale, CROP_RATIO, () => random.next());
  return [index, box.x, box.y, box.width, box.height, random.next() < flip ? 1 : 0];
}

/** Decodes the images at `indices`; those that cannot be decoded are left out and recorded. */
export async function loadImages(dataset: Dataset, indices: number[], failures: DecodeFailures, skipped: DecodeError[]) {
  const loaded = await Promise.all(
    indices.map(async (index) => {
      try {
        return { index, image: await dataset.load(index) };
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
      failures.add(index);
    }
  }
  return images;
}

export async function extractFeatures(dataset: Dataset, embed: Embed, options: FeatureOptions = {}): Promise<ExtractedFeatures> {
  const size = options.size ?? 224;
  const batchSize = options.batchSize ?? 256;
  const count = Math.min(dataset.size, options.limit ?? dataset.size);
  const failures = new DecodeFailures(dataset, count, options.maxFailureShare ?? DEFAULT_MAX_FAILURE_SHARE, "the");
  const skipped: DecodeError[] = [];
  let features: Float32Array | undefined;
  let dim = 0;
  let rows = 0; // images embedded so far
  const labels = new BigInt64Array(count);
  const warn = options.warn ?? ((message: string) => process.emitWarning(message, "DataWarning"));
  if (dataset.leftOut) warn(dataset.leftOut);
  options.onProgress?.(0, count);
  for (let start = 0; start < count; start += batchSize) {
    options.signal?.throwIfAborted();
    const loaded = await loadImages(
      dataset,
      Array.from({ length: Math.min(batchSize, count - start) }, (_, i) => start + i),
      failures,
      skipped,
    );
    if (loaded.length === 0) continue;
    const indices = loaded.map((l) => l.index);
    const images = loaded.map((l) => l.image);
    const { augment } = options;
    const boxes = Int32Array.from(
      images.flatMap((image, i) =>
        augment ? augmentedCrop(i, image, Random.seeded(augment.seed, augment.view, indices[i]!)) : centreCrop(i, image),
      ),
    );
    const colour = new Float32Array(images.length * 12); // no photometric change
    const [views] = await renderGroups(images, [{ size, boxes, colour }], options.normalisation ?? IMAGENET_NORMALISATION, options.device ?? "cpu");
    const embedded = await embed(views!);
    views!.dispose();
    const values = embedded.toArray() as Float32Array;
    dim = embedded.shape()[1]!;
    embedded.dispose();
    features ??= new Float32Array(count * dim);
    features.set(values, rows * dim);
    indices.forEach((index, i) => {
      labels[rows + i] = BigInt(dataset.label(index));
    });
    rows += indices.length;
    options.onProgress?.(Math.min(start + batchSize, count), count);
  }
  if (count > 0 && rows === 0) throw failures.noneDecoded();
  if (skipped.length > 0) {
    warn(`skipped ${skipped.length} of ${count} images that cannot be decoded: ${skipped.map((e) => e.message).join("; ")}`);
  }
  return {
    features: tensor((features ?? new Float32Array(0)).subarray(0, rows * dim), [rows, dim]),
    labels: tensor(labels.subarray(0, rows), [rows]),
    skipped: skipped.map((e) => e.file),
  };
}
