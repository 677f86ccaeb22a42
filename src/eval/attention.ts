// Attention maps as DINO shows them: the last block's attention from the CLS token to
// every patch, per head, upsampled to the image and laid over it, written as PNGs.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";

import sharp from "sharp";
import { z } from "zod";

import { parseOptions } from "../config/parse.js";
import { decodeImage } from "../data/decode.js";
import { IMAGENET_NORMALISATION, type RgbImage } from "../data/render.js";
import { makeFolder } from "../io/folders.js";
import { readImageFile, requirePath } from "../io/input-file.js";
import type { Model } from "../model/model.js";

/** The shorter side an image is shrunk to unless told otherwise: DINO's visualize_attention.py resizes to 480. */
export const DEFAULT_SHORT_SIDE = 480;

/**
 * The most memory the last block's attention (heads x tokens x tokens floats) may take: past it,
 * LibTorch's allocation fails with its own message, or the machine swaps.
 */
export const MAX_ATTENTION_BYTES = 2 * 1024 ** 3;

const attentionMapOptionsSchema = z.object({
  /** Resize so that the shorter side is this many pixels first; default: shrink to DEFAULT_SHORT_SIDE where longer, else keep. */
  shortSide: z.number().int().positive().optional(),
});
export type AttentionMapOptions = z.input<typeof attentionMapOptionsSchema>;

export interface AttentionMaps {
  /** One overlay per head, then the mean over heads: each the image's size. */
  files: string[];
  /** All panels side by side: the image, the heads, the mean. */
  panels: string;
  width: number;
  height: number;
  heads: number;
}

/** The size a width x height image takes: shorter side `shortSide` (when given), cut down to whole patches. */
function patchFit(width: number, height: number, patch: number, shortSide: number | undefined): { width: number; height: number } {
  const scale = shortSide ? shortSide / Math.min(width, height) : 1;
  return { width: Math.floor((width * scale) / patch) * patch, height: Math.floor((height * scale) / patch) * patch };
}

/** `image` resized (shorter side to `shortSide` when given) and cut down to whole patches. */
export async function fitToPatches(image: RgbImage, patch: number, shortSide: number | undefined, name: string): Promise<RgbImage> {
  const { width, height } = patchFit(image.width, image.height, patch, shortSide);
  if (width < patch || height < patch) throw new RangeError(`${name} is smaller than one ${patch}-pixel patch`);
  if (width === image.width && height === image.height) return image;
  const data = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(width, height, { fit: "fill", kernel: "cubic" })
    .raw()
    .toBuffer();
  return { width, height, data: new Uint8Array(data) };
}

/** Bytes of the last block's attention of `model` for a width x height image: heads x tokens² floats, the CLS token counted. */
function attentionBytes(model: Model, width: number, height: number): number {
  const { patchSize, numHeads } = model.options;
  const tokens = (width / patchSize) * (height / patchSize) + 1;
  return numHeads * tokens * tokens * 4;
}

/**
 * Refuses an image (`image`: its size before fitting) whose attention at `shortSide` would take
 * more than MAX_ATTENTION_BYTES, before any of it is computed; names the largest shorter side that fits.
 */
function checkAttentionSize(model: Model, image: { width: number; height: number }, shortSide: number, name: string): void {
  const patch = model.options.patchSize;
  const bytesAt = (side: number) => {
    const { width, height } = patchFit(image.width, image.height, patch, side);
    return attentionBytes(model, width, height);
  };
  if (bytesAt(shortSide) <= MAX_ATTENTION_BYTES) return;
  let largest = Math.floor(shortSide / patch) * patch;
  while (largest > patch && bytesAt(largest) > MAX_ATTENTION_BYTES) largest -= patch;
  const { width, height } = patchFit(image.width, image.height, patch, shortSide);
  const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
  throw new RangeError(
    `${name} at a shorter side of ${shortSide} px is ${width} x ${height} px, ${((width / patch) * (height / patch)).toLocaleString("en-US")} patches: ` +
      `the last block's attention (${model.options.numHeads} heads x tokens²) would take ${gib(bytesAt(shortSide))}, ` +
      `more than the ${gib(MAX_ATTENTION_BYTES)} allowed; give a shorter side of at most ${largest} px (shortSide: ${largest})`,
  );
}

/** A heat colour for v in [0, 1]: black, red, yellow, white. */
function heat(v: number): [number, number, number] {
  return [Math.min(1, 3 * v), Math.min(1, Math.max(0, 3 * v - 1)), Math.min(1, Math.max(0, 3 * v - 2))].map((c) => c * 255) as [
    number,
    number,
    number,
  ];
}

/**
 * The attention overlays of `model` (a backbone) for `image` (sides multiples of the patch
 * size, see fitToPatches): raw RGB, one per head, then the mean over heads.
 */
export async function attentionOverlays(model: Model, image: RgbImage): Promise<{ overlays: Buffer[]; heads: number }> {
  const patch = model.options.patchSize;
  const { width, height } = image;
  const pixels = { pixels: image.data, shape: [1, height, width, 3] as [number, number, number, number], ...IMAGENET_NORMALISATION };
  const attention = await model.lastSelfAttention(pixels);
  const [, heads, tokens] = attention.shape() as [number, number, number, number];
  const values = attention.toArray() as Float32Array;
  attention.dispose();
  const [cols, rows] = [width / patch, height / patch];

  // CLS -> patch attention per head, then the mean; each scaled to [0, 1] for display
  const maps: Float32Array[] = [];
  for (let h = 0; h < heads; h++) maps.push(values.slice(h * tokens * tokens + 1, h * tokens * tokens + tokens));
  maps.push(maps.reduce((mean, m) => mean.map((v, i) => v + m[i]! / heads), new Float32Array(rows * cols)));

  const overlays = maps.map((map) => {
    const max = Math.max(...map);
    const min = Math.min(...map);
    const out = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const v = (map[Math.floor(y / patch) * cols + Math.floor(x / patch)]! - min) / (max - min || 1);
        const colour = heat(v);
        for (let c = 0; c < 3; c++) out[(y * width + x) * 3 + c] = Math.round(0.4 * image.data[(y * width + x) * 3 + c]! + 0.6 * colour[c]!);
      }
    }
    return out;
  });
  return { overlays, heads };
}

/** The image and its overlays side by side, as one PNG. */
export async function attentionPanels(image: RgbImage, overlays: readonly Buffer[]): Promise<Buffer> {
  const { width, height } = image;
  const all = [Buffer.from(image.data), ...overlays];
  return sharp({ create: { width: width * all.length, height, channels: 3, background: "#000" } })
    .composite(all.map((input, i) => ({ input, raw: { width, height, channels: 3 as const }, left: i * width, top: 0 })))
    .png()
    .toBuffer();
}

/** Writes the attention overlays of `model` (a backbone) for the image at `imagePath` into `outputDir`. */
export async function attentionMaps(model: Model, imagePath: string, outputDir: string, options: AttentionMapOptions = {}): Promise<AttentionMaps> {
  const { shortSide } = parseOptions(attentionMapOptionsSchema, options, "attention map options", { knownFieldsOnly: true });
  requirePath(imagePath, "attentionMaps", "the image");
  const decoded = await decodeImage(await readImageFile(imagePath), imagePath);
  // a photo of 6000 x 4000 px whole would be 93,750 patches of 16 px, and its attention 200 GiB
  const side = shortSide ?? Math.min(DEFAULT_SHORT_SIDE, decoded.width, decoded.height);
  checkAttentionSize(model, decoded, side, imagePath);
  const image = await fitToPatches(decoded, model.options.patchSize, side, imagePath);
  const { width, height } = image;
  const { overlays, heads } = await attentionOverlays(model, image);
  makeFolder(outputDir);
  const files = overlays.map((_, i) => join(outputDir, i < heads ? `attention-head${i}.png` : "attention-mean.png"));
  await Promise.all(
    overlays.map((o, i) =>
      sharp(o, { raw: { width, height, channels: 3 } })
        .png()
        .toFile(files[i]!),
    ),
  );
  const panels = join(outputDir, "attention-panels.png");
  await writeFile(panels, await attentionPanels(image, overlays));
  return { files, panels, width, height, heads };
}
