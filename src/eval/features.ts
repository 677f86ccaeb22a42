// Features of a dataset for evaluation (spec 9): each image resized and centre-cropped by
// DINO's rule (resize the shorter side to 256/224 of the input size, crop the centre),
// normalised, and embedded in batches on the device.
import type { Dataset } from "../data/datasets/dataset.js";
import { IMAGENET_NORMALISATION, type Normalisation, renderGroups, type RgbImage } from "../data/render.js";
import type { Model } from "../model/model.js";
import { tensor, type Tensor } from "../tensor.js";

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
}

/** The teacher (or any) backbone's CLS token after the final norm. */
export const clsFeatures =
  (model: Model): Embed =>
  (images) =>
    model.features(images);

/** The normalised pixels themselves, flattened: the baseline a pretrained model must beat. */
export const pixelFeatures: Embed = async (images) => {
  const [batch, ...rest] = images.shape();
  return images.reshape([batch!, rest.reduce((a, b) => a * b, 1)]);
};

/** DINO's centre crop of `image` (shorter side * 224 / 256, centred) as a box row. */
function centreCrop(index: number, image: RgbImage): number[] {
  const side = Math.max(1, Math.round((Math.min(image.width, image.height) * 224) / 256));
  return [index, Math.floor((image.width - side) / 2), Math.floor((image.height - side) / 2), side, side, 0];
}

export async function extractFeatures(
  dataset: Dataset,
  embed: Embed,
  options: FeatureOptions = {},
): Promise<{ features: Tensor; labels: Tensor }> {
  const size = options.size ?? 224;
  const batchSize = options.batchSize ?? 256;
  const count = Math.min(dataset.size, options.limit ?? dataset.size);
  let features: Float32Array | undefined;
  let dim = 0;
  const labels = new BigInt64Array(count);
  for (let start = 0; start < count; start += batchSize) {
    const indices = Array.from({ length: Math.min(batchSize, count - start) }, (_, i) => start + i);
    const images = await Promise.all(indices.map((i) => dataset.load(i)));
    const boxes = Int32Array.from(images.flatMap((image, i) => centreCrop(i, image)));
    const colour = new Float32Array(images.length * 12); // no photometric change
    const [views] = await renderGroups(images, [{ size, boxes, colour }], options.normalisation ?? IMAGENET_NORMALISATION, options.device ?? "cpu");
    const embedded = await embed(views!);
    views!.dispose();
    const values = embedded.toArray() as Float32Array;
    dim = embedded.shape()[1]!;
    embedded.dispose();
    features ??= new Float32Array(count * dim);
    features.set(values, start * dim);
    indices.forEach((index, i) => (labels[start + i] = BigInt(dataset.label(index))));
  }
  return { features: tensor(features ?? new Float32Array(0), [count, dim]), labels: tensor(labels, [count]) };
}
