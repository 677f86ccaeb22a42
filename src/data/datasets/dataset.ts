// What every dataset offers the loader and evaluation, whatever its format.
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
  /** Class index of image i; -1 when unlabelled. */
  label(index: number): number;
  /** A name for image i that a person can find (a file path, or file#index). */
  describe(index: number): string;
  /** Decodes image i to RGB; throws DecodeError naming it when it cannot be read. */
  load(index: number, detail?: DetailToKeep): Promise<RgbImage>;
  /** Smallest and largest width and height (reads every header of file-based data). */
  sizeRange(): Promise<SizeRange>;
}

/** A bad path or bad contents: the message names the problem and the fix. */
export class DatasetError extends Error {
  override name = "DatasetError";
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
