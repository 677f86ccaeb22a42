// Image batches as users hold them, turned into the (B, 3, H, W) float tensor a model takes.
import { type Tensor, tensor } from "../tensor.js";

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

export type ImageBatch =
  /** Already normalised, (B, 3, H, W). */
  | { data: Float32Array; shape: [number, number, number, number] }
  /** uint8 RGB pixels, (B, H, W, 3), normalised with mean/std (default ImageNet's). */
  | {
      pixels: Uint8Array;
      shape: [number, number, number, number];
      mean?: readonly [number, number, number];
      std?: readonly [number, number, number];
    };

/** A new native tensor (B, 3, H, W) for `batch`; the caller disposes it. */
export function imagesToTensor(batch: ImageBatch): Tensor {
  if ("data" in batch) {
    if (batch.shape.length !== 4 || batch.shape[1] !== 3) {
      throw new RangeError(`images: shape must be [B, 3, H, W], got [${batch.shape.join(", ")}]`);
    }
    return tensor(batch.data, batch.shape);
  }
  const [B, H, W, C] = batch.shape;
  if (batch.shape.length !== 4 || C !== 3) throw new RangeError(`pixels: shape must be [B, H, W, 3], got [${batch.shape.join(", ")}]`);
  if (batch.pixels.length !== B * H * W * 3) {
    throw new RangeError(`pixels: ${batch.pixels.length} values do not fill shape [${batch.shape.join(", ")}]`);
  }
  const mean = batch.mean ?? IMAGENET_MEAN;
  const std = batch.std ?? IMAGENET_STD;
  if (mean.length !== 3 || std.length !== 3 || !mean.every(Number.isFinite) || !std.every((s) => Number.isFinite(s) && s > 0)) {
    throw new RangeError(`pixels: mean and std must be 3 numbers each, std positive; got mean [${mean.join(", ")}], std [${std.join(", ")}]`);
  }
  const out = new Float32Array(B * 3 * H * W);
  const plane = H * W;
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < 3; c++) {
      const scale = 1 / (255 * std[c]!);
      const shift = mean[c]! / std[c]!;
      const dst = (b * 3 + c) * plane;
      const src = b * plane * 3 + c;
      for (let i = 0; i < plane; i++) out[dst + i] = batch.pixels[src + 3 * i]! * scale - shift;
    }
  }
  return tensor(out, [B, 3, H, W]);
}
