// Small datasets written to a temporary folder for the data tests.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

import sharp from "sharp";

import type { Dataset } from "../../src/data/datasets/dataset.js";

/** A dataset of `size` unlabelled 32 x 32 images, named "image i", that `load` makes (or fails to). */
export function fakeDataset(path: string, size: number, load: Dataset["load"]): Dataset {
  return {
    format: "image-folder",
    path,
    size,
    classes: [],
    label: () => -1,
    describe: (i) => `image ${i}`,
    load,
    sizeRange: async () => ({ minWidth: 32, maxWidth: 32, minHeight: 32, maxHeight: 32 }),
  };
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `sere-${prefix}-`));
}

/** A w x h RGB image with a gradient and a per-image tint. */
export function rgb(width: number, height: number, tint: number): Buffer {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data.set([(x * 7 + tint) % 256, (y * 5 + tint * 3) % 256, (x + y + tint) % 256], (y * width + x) * 3);
  return data;
}

export async function writeJpeg(path: string, width: number, height: number, tint: number): Promise<void> {
  await sharp(rgb(width, height, tint), { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 90 })
    .toFile(path);
}

export async function writePng(path: string, width: number, height: number, tint: number): Promise<void> {
  await sharp(rgb(width, height, tint), { raw: { width, height, channels: 3 } })
    .png()
    .toFile(path);
}

/** An IDX pair (gzipped) of `count` 28 x 28 images, labels i % 10. */
export function writeIdx(dir: string, stem: "train" | "t10k", count: number): void {
  const header = (magic: number, dims: number[]) => {
    const b = Buffer.alloc(4 + 4 * dims.length);
    b.writeUInt32BE(magic, 0);
    dims.forEach((d, i) => {
      b.writeUInt32BE(d, 4 + 4 * i);
    });
    return b;
  };
  const pixels = Buffer.alloc(count * 28 * 28);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 13 + Math.floor(i / 784) * 31) % 256;
  const labels = Buffer.from(Array.from({ length: count }, (_, i) => i % 10));
  writeFileSync(join(dir, `${stem}-images-idx3-ubyte.gz`), gzipSync(Buffer.concat([header(0x803, [count, 28, 28]), pixels])));
  writeFileSync(join(dir, `${stem}-labels-idx1-ubyte.gz`), gzipSync(Buffer.concat([header(0x801, [count]), labels])));
}

/** A class folder tree with `good` images and three bad files. */
export async function writeFolderWithBadFiles(root: string): Promise<{ good: number; bad: string[] }> {
  mkdirSync(join(root, "cats", "nested"), { recursive: true });
  mkdirSync(join(root, "dogs"), { recursive: true });
  await writeJpeg(join(root, "cats", "a.jpg"), 60, 45, 1);
  await writePng(join(root, "cats", "nested", "b.png"), 40, 50, 2);
  await writeJpeg(join(root, "cats", "c.jpeg"), 64, 48, 3);
  await writeJpeg(join(root, "dogs", "d.jpg"), 50, 40, 4);
  await writePng(join(root, "dogs", "e.png"), 48, 48, 5);
  await writeJpeg(join(root, "dogs", "f.jpg"), 70, 40, 6);
  const jpeg = await sharp(rgb(64, 64, 9), { raw: { width: 64, height: 64, channels: 3 } })
    .jpeg()
    .toBuffer();
  const bad = [join(root, "cats", "truncated.jpg"), join(root, "dogs", "empty.jpg"), join(root, "dogs", "notes.png")];
  writeFileSync(bad[0]!, jpeg.subarray(0, Math.floor(jpeg.length / 2)));
  writeFileSync(bad[1]!, Buffer.alloc(0));
  writeFileSync(bad[2]!, "these are notes, not a picture\n");
  return { good: 6, bad };
}

/** Small views so that tests run fast. */
export const SMALL_VIEWS = { globalSize: 32, localSize: 16, localCount: 2, patchSize: 8 };
