// CIFAR-10 and CIFAR-100 binary batches. CIFAR-10: data_batch_1..5.bin (train) and
// test_batch.bin, records of 1 label byte + 3072 pixel bytes (planes R, G, B of 32 x 32);
// CIFAR-100: train.bin and test.bin, records of coarse + fine label + 3072 bytes (fine used).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

import type { RgbImage } from "../render.js";
import { checkIndex, type Dataset, DatasetError, type SizeRange, type Split } from "./dataset.js";

const SIDE = 32;
const PIXELS = SIDE * SIDE * 3;

/** The batch files of `split` in `dir` and the label bytes per record, or undefined. */
export function cifarFiles(dir: string, split: Split): { files: string[]; labelBytes: 1 | 2 } | undefined {
  const ten = split === "train" ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`) : ["test_batch.bin"];
  const tenFiles = ten.map((f) => join(dir, f)).filter((f) => existsSync(f));
  if (tenFiles.length > 0) return { files: tenFiles, labelBytes: 1 };
  const hundred = join(dir, split === "train" ? "train.bin" : "test.bin");
  if (existsSync(hundred)) return { files: [hundred], labelBytes: 2 };
  return undefined;
}

function classNames(dir: string, labelBytes: 1 | 2, count: number): string[] {
  const file = join(dir, labelBytes === 1 ? "batches.meta.txt" : "fine_label_names.txt");
  if (existsSync(file)) {
    const names = readFileSync(file, "utf8")
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
    if (names.length >= count) return names;
  }
  return Array.from({ length: count }, (_, i) => String(i));
}

export class CifarDataset implements Dataset {
  readonly format = "cifar";
  readonly size: number;
  readonly leftOut?: string;
  readonly classes: readonly string[];
  private readonly records: { file: string; data: Uint8Array; offset: number }[] = [];
  private readonly labels: number[] = [];

  constructor(
    readonly path: string,
    files: string[],
    labelBytes: 1 | 2,
  ) {
    const record = labelBytes + PIXELS;
    for (const file of files) {
      const data = readFileSync(file);
      if (data.length === 0) throw new DatasetError(`${file} is empty; download the binary version again`);
      if (data.length % record !== 0) {
        throw new DatasetError(
          `${file} is ${data.length} bytes, not a whole number of ${record}-byte CIFAR records; download the binary version again`,
        );
      }
      for (let offset = 0; offset < data.length; offset += record) {
        this.records.push({ file, data, offset: offset + labelBytes });
        this.labels.push(data[offset + labelBytes - 1]!);
      }
    }
    this.size = this.records.length;
    // CIFAR-10's training split is five batches: fewer is data that went missing (or a subset, said so)
    if (labelBytes === 1 && files.length < 5 && files.every((f) => /data_batch_\d\.bin$/.test(f))) {
      const missing = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`).filter((name) => !files.some((f) => f.endsWith(name)));
      this.leftOut = `${path} holds ${files.length} of CIFAR-10's 5 training batches (${missing.join(", ")} missing): training on those`;
    }
    this.classes = classNames(path, labelBytes, this.labels.reduce((m, l) => Math.max(m, l), 0) + 1);
  }

  label(index: number): number {
    checkIndex(this, index);
    return this.labels[index]!;
  }

  describe(index: number): string {
    checkIndex(this, index);
    const r = this.records[index]!;
    return `${r.file}#${index}`;
  }

  async load(index: number): Promise<RgbImage> {
    checkIndex(this, index);
    const { data, offset } = this.records[index]!;
    const out = new Uint8Array(PIXELS);
    const plane = SIDE * SIDE;
    for (let p = 0; p < plane; p++) {
      out[3 * p] = data[offset + p]!;
      out[3 * p + 1] = data[offset + plane + p]!;
      out[3 * p + 2] = data[offset + 2 * plane + p]!;
    }
    return { width: SIDE, height: SIDE, data: out };
  }

  async sizeRange(): Promise<SizeRange> {
    return { minWidth: SIDE, maxWidth: SIDE, minHeight: SIDE, maxHeight: SIDE };
  }
}
