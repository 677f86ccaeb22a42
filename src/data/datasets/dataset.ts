// What every dataset offers the loader and evaluation, whatever its format.
import { describeKind } from "../../config/parse.js";
import type { DetailToKeep } from "../decode.js";
import type { RgbImage } from "../render.js";

export type DatasetFormat = "image-folder" | "idx" | "cifar" | "text-list";
export type Split = "train" | "test";

export interface SizeRange {
  minWidth: number;
  maxWidth: number;
  minHeight: number;
  maxHeight: number;
}

export interface Dataset {
  readonly format: DatasetFormat;
  /** Where it was opened from. */
  readonly path: string;
  readonly size: number;
  /** Image files the dataset leaves out, said to the user before use: "3 .bmp files ... are left out"; absent when none. */
  readonly leftOut?: string;
  /** Class names; label(i) indexes them. Empty when the data has no labels. */
  readonly classes: readonly string[];
  /** Class index of image i; -1 when unlabelled. Each of these three throws a RangeError for an index that names no image (checkIndex). */
  label(index: number): number;
  /** A name for image i that a person can find (a file path, or file#index). */
  describe(index: number): string;
  /** Decodes image i to RGB; throws DecodeError naming it when it cannot be read. */
  load(index: number, detail?: DetailToKeep): Promise<RgbImage>;
  /** Smallest and largest width and height (reads every header of file-based data). */
  sizeRange(): Promise<SizeRange>;
}

/**
 * Refuses an index that names no image of the dataset: a whole number from 0 to size - 1. Read
 * anyway, a number past the end gives a blank image, a negative or fractional one the bytes of
 * others.
 */
export function checkIndex(dataset: Pick<Dataset, "path" | "size">, index: number): number {
  if (Number.isInteger(index) && index >= 0 && index < dataset.size) return index;
  throw new RangeError(`image ${index} of ${dataset.path}: it holds ${dataset.size} images, 0 to ${dataset.size - 1}`);
}

/** A bad path or bad contents: the message names the problem and the fix. */
export class DatasetError extends Error {
  override name = "DatasetError";
}

/** Throws a TypeError unless `dataset` is a Dataset: a path given in its place is told to be opened first. */
export function requireDataset(dataset: unknown, where: string): asserts dataset is Dataset {
  const d = dataset as Partial<Dataset> | null | undefined;
  if (typeof d === "object" && d !== null && Number.isInteger(d.size) && typeof d.load === "function" && typeof d.label === "function") return;
  if (typeof dataset === "string") {
    const path = JSON.stringify(dataset);
    throw new TypeError(`${where}: the dataset must be a Dataset, given the path ${path}: open it first, with openDataset(${path})`);
  }
  throw new TypeError(`${where}: the dataset must be a Dataset (from openDataset(path)), given ${describeKind(dataset)}`);
}

/**
 * Throws a DatasetError unless every image of `dataset` has a label: `use` (what needs them)
 * would otherwise meet the label -1 of an unlabelled image deep in its numerics.
 */
export function requireLabels(dataset: Dataset, use: string): void {
  if (dataset.classes.length === 0) {
    throw new DatasetError(`${dataset.path} has no labels (no class subfolders, or a list without labels): ${use} needs labelled images`);
  }
  for (let i = 0; i < dataset.size; i++) {
    if (dataset.label(i) >= 0) continue;
    throw new DatasetError(
      `${dataset.describe(i)} has no label (an image outside ${dataset.path}'s class subfolders, or a list line without one): ` +
        `${use} needs every image labelled; move it into a class, or out of the data`,
    );
  }
}

/**
 * requireLabels on both splits, and their classes compared: a test image of a class that no
 * training image has can never be given its class (a val/ folder of unsorted images is one
 * class, "images", that training lacks). Where no test image has a class of the training
 * split's, a DatasetError; where some, `warn` is told how many and which classes.
 */
export function requireLabelledSplits(train: Dataset, test: Dataset, use: string, warn: (message: string) => void): void {
  requireLabels(train, use);
  requireLabels(test, use);
  const trained = new Set<number>();
  for (let i = 0; i < train.size; i++) trained.add(train.label(i));
  const untrained = new Map<number, number>(); // class: its test images
  for (let i = 0; i < test.size; i++) {
    const label = test.label(i);
    if (!trained.has(label)) untrained.set(label, (untrained.get(label) ?? 0) + 1);
  }
  // one class: every image is of it, and any classifier scores 100%
  if (trained.size === 1 && untrained.size === 0) {
    warn(
      `every image of ${train.path} and ${test.path} is of one class: ${use} will score 100% whatever the network; give images of two classes or more`,
    );
  }
  if (untrained.size === 0) return;
  const names = (labels: Iterable<number>, of: Dataset) => {
    const all = [...labels].map((l) => of.classes[l] ?? String(l));
    return all.length > 5 ? `${all.slice(0, 5).join(", ")} and ${all.length - 5} more` : all.join(", ");
  };
  const images = [...untrained.values()].reduce((a, b) => a + b, 0);
  if (images === test.size) {
    throw new DatasetError(
      `no test image of ${test.path} is of a class that ${train.path} has training images of (the test split's: ${names(untrained.keys(), test)}; ` +
        `the training split's: ${names(trained, train)}): ${use} needs test images sorted into the training split's classes`,
    );
  }
  warn(
    `${images.toLocaleString("en-US")} of ${test.size.toLocaleString("en-US")} test images are of classes without training images ` +
      `(${names(untrained.keys(), test)}): ${use} cannot give them their class`,
  );
}

/**
 * The images that a limit of `limit` takes of a split of `size`: spread evenly over it (every
 * size/limit-th), so that a folder in class order gives images of every class, not the first
 * classes' alone; all of them without a limit (undefined).
 */
export function spreadSubset(size: number, limit?: number): number[] {
  const count = limit === undefined ? size : Math.min(size, limit);
  return Array.from({ length: count }, (_, i) => Math.floor((i * size) / count));
}

export function rangeOf(sizes: Iterable<{ width: number; height: number }>): SizeRange {
  const r = { minWidth: Infinity, maxWidth: 0, minHeight: Infinity, maxHeight: 0 };
  for (const s of sizes) {
    r.minWidth = Math.min(r.minWidth, s.width);
    r.maxWidth = Math.max(r.maxWidth, s.width);
    r.minHeight = Math.min(r.minHeight, s.height);
    r.maxHeight = Math.max(r.maxHeight, s.height);
  }
  if (r.maxWidth === 0) return { minWidth: 0, maxWidth: 0, minHeight: 0, maxHeight: 0 };
  return r;
}
