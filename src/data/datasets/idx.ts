// IDX files (MNIST, Fashion-MNIST), gzipped or not: `<split>-images-idx3-ubyte[.gz]` with
// `<split>-labels-idx1-ubyte[.gz]` beside it; the splits are "train" and "t10k" (test).
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { gunzipSync } from "node:zlib";

import { grayToRgb } from "../decode.js";
import type { RgbImage } from "../render.js";
import { checkIndex, type Dataset, DatasetError, type SizeRange, type Split } from "./dataset.js";

const FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

/** The IDX images file of `split` in `dir`, if there is one. */
export function idxImagesFile(dir: string, split: Split): string | undefined {
  const stem = split === "train" ? "train" : "t10k";
  return [`${stem}-images-idx3-ubyte.gz`, `${stem}-images-idx3-ubyte`, `${stem}-images.idx3-ubyte`]
    .map((name) => join(dir, name))
    .find((path) => existsSync(path));
}

/** The bytes of an IDX file, gunzipped when it is gzipped. */
function idxBytes(path: string): Uint8Array {
  const bytes = readFileSync(path);
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    return gunzipSync(bytes);
  } catch (err) {
    throw new DatasetError(`${path} is not a complete gzip file (${(err as Error).message}); download it again`);
  }
}

/** An IDX file of `ndim` dimensions: 3 for images (count, rows, columns), 1 for labels. */
function readIdx(path: string, expectedDims: 1 | 3): { dims: number[]; data: Uint8Array } {
  const bytes = idxBytes(path);
  if (bytes.length === 0) throw new DatasetError(`${path} is empty; download it again`);
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 0x08) {
    throw new DatasetError(`${path} is not an IDX file of unsigned bytes (bad magic number); expected MNIST-style *-idx3-ubyte / *-idx1-ubyte files`);
  }
  const ndim = bytes[3]!;
  if (ndim !== expectedDims) {
    const what = expectedDims === 3 ? "images (count, rows, columns)" : "labels (count)";
    throw new DatasetError(
      `${path} holds ${ndim} dimension(s) where ${what} have ${expectedDims}: is it the ${expectedDims === 3 ? "labels" : "images"} file?`,
    );
  }
  const start = 4 + 4 * ndim;
  if (bytes.length < start)
    throw new DatasetError(`${path} is truncated: its header needs ${start} bytes, it has ${bytes.length}; download it again`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: ndim }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  if (bytes.length < start + count)
    throw new DatasetError(`${path} is truncated: it needs ${start + count} bytes, has ${bytes.length}; download it again`);
  return { dims, data: bytes.subarray(start, start + count) };
}

/** The labels file beside an images file, gzipped or not whichever the images are. */
function labelsFileOf(imagesFile: string): string | undefined {
  const named = imagesFile.replace("images-idx3", "labels-idx1").replace("images.idx3", "labels.idx1").replace(/\.gz$/, "");
  if (named === imagesFile.replace(/\.gz$/, "")) return undefined;
  return [named, `${named}.gz`].find((path) => existsSync(path));
}

export class IdxDataset implements Dataset {
  readonly format = "idx";
  readonly size: number;
  readonly classes: readonly string[];
  private readonly images: Uint8Array;
  private readonly labels: Uint8Array | undefined;
  private readonly rows: number;
  private readonly cols: number;

  constructor(
    readonly path: string,
    private readonly imagesFile: string,
  ) {
    const images = readIdx(imagesFile, 3);
    [this.size, this.rows, this.cols] = images.dims as [number, number, number];
    if (this.rows === 0 || this.cols === 0)
      throw new DatasetError(`${imagesFile}: its images are ${this.rows} x ${this.cols} pixels (a corrupt header); download it again`);
    if (this.size === 0) throw new DatasetError(`${imagesFile} holds no images (its header counts 0)`);
    this.images = images.data;
    const labelsFile = labelsFileOf(imagesFile);
    if (labelsFile) {
      this.labels = readIdx(labelsFile, 1).data;
      if (this.labels.length !== this.size) throw new DatasetError(`${labelsFile} has ${this.labels.length} labels for ${this.size} images`);
    }
    const fashion = /fashion/i.test(imagesFile);
    const count = this.labels ? this.labels.reduce((m, l) => Math.max(m, l), 0) + 1 : 0;
    this.classes = fashion && count <= 10 ? FASHION_CLASSES : Array.from({ length: count }, (_, i) => String(i));
  }

  label(index: number): number {
    checkIndex(this, index);
    return this.labels ? this.labels[index]! : -1;
  }

  describe(index: number): string {
    checkIndex(this, index);
    return `${basename(this.imagesFile)}#${index}`;
  }

  async load(index: number): Promise<RgbImage> {
    checkIndex(this, index);
    const n = this.rows * this.cols;
    return grayToRgb(this.images.subarray(index * n, (index + 1) * n), this.cols, this.rows);
  }

  async sizeRange(): Promise<SizeRange> {
    return { minWidth: this.cols, maxWidth: this.cols, minHeight: this.rows, maxHeight: this.rows };
  }
}
