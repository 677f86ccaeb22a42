// What happens to images that cannot be decoded, in training and in evaluation alike: each
// is skipped and named; a pass over the data stops when more than `maxShare` of its images
// fail, or when not one of them decodes.
import { type Dataset, DatasetError } from "./datasets/dataset.js";

/** The share of a pass's images that may fail to decode unless told otherwise. */
export const DEFAULT_MAX_FAILURE_SHARE = 0.01;

export class DecodeFailures {
  count = 0;
  private latest = "";

  /** `scope` says what the pass is, e.g. "this epoch's" (it precedes "N images"). */
  constructor(
    private readonly dataset: Dataset,
    private readonly total: number,
    private readonly maxShare: number,
    private readonly scope: string,
  ) {}

  /** Whether more have failed than the pass allows (the pass has stopped: what fails after says nothing new). */
  get exceeded(): boolean {
    return this.count > this.maxShare * this.total;
  }

  /** Counts a failure of image `index` (and why, where known); throws a DatasetError once too many have failed. */
  add(index: number, reason?: string): void {
    this.count++;
    this.latest = `${this.dataset.describe(index)}${reason ? ` (${reason})` : ""}`;
    if (this.exceeded && this.total === 1) {
      // a pass of one image (sere predict on one file): a share of it says nothing
      throw new DatasetError(`cannot decode ${this.latest}; fix or replace the file`);
    }
    if (this.exceeded) {
      const share = +(100 * this.maxShare).toFixed(2);
      throw new DatasetError(
        `more than ${share}% of ${this.scope} ${this.total} images failed to decode ` +
          `(${this.count} so far, the latest ${this.latest}); fix or remove the broken files, or raise the share allowed (--max-failure-share; maxFailureShare from code)`,
      );
    }
  }

  /** The error for a pass in which not one image decoded (only possible when every failure is allowed). */
  noneDecoded(): DatasetError {
    return new DatasetError(
      `not one image under ${this.dataset.path} could be decoded: all ${this.count} of ${this.scope} images failed ` +
        `(the latest ${this.latest}); fix or remove the broken files, or point the data path at another folder`,
    );
  }
}
