// Datasets whose images are files: an image folder or a text list of paths.
import { readRegularFile, whyUnreadable } from "../../io/input-file.js";
import { DecodeError, type DetailToKeep, decodeImage, readImageSize } from "../decode.js";
import type { RgbImage } from "../render.js";
import { checkIndex, type Dataset, type DatasetFormat, rangeOf, type SizeRange } from "./dataset.js";

export class FileDataset implements Dataset {
  readonly size: number;

  constructor(
    readonly format: DatasetFormat,
    readonly path: string,
    private readonly files: readonly string[],
    private readonly labels: readonly number[],
    readonly classes: readonly string[],
    readonly leftOut?: string,
  ) {
    this.size = files.length;
  }

  label(index: number): number {
    checkIndex(this, index);
    return this.labels[index]!;
  }

  describe(index: number): string {
    checkIndex(this, index);
    return this.files[index]!;
  }

  async load(index: number, detail?: DetailToKeep): Promise<RgbImage> {
    checkIndex(this, index);
    const file = this.files[index]!;
    let bytes: Uint8Array;
    try {
      bytes = await readRegularFile(file);
    } catch (err) {
      throw new DecodeError(file, whyUnreadable(err));
    }
    return decodeImage(bytes, file, detail);
  }

  /** Reads every file's header; files that cannot be read are left out. */
  async sizeRange(): Promise<SizeRange> {
    const sizes: { width: number; height: number }[] = [];
    for (const file of this.files) {
      try {
        sizes.push(await readImageSize(await readRegularFile(file), file));
      } catch {
        // unreadable files are reported by the loader when it meets them
      }
    }
    return rangeOf(sizes);
  }
}
