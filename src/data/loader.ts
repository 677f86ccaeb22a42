// The training loader: per-epoch shuffled, rank-sharded batches of rendered views, with
// decoding, planning and rendering of the next batches running while the current one is
// used (at most `prefetch` batches in flight, so memory stays flat).
//
// Randomness: the shuffle of epoch e comes from Random.seeded(seed, e); crops, photometric
// parameters and masks come from one generator stream, planned batch after batch in order.
// state() is that stream's position after the last batch handed out, so a run restored
// from it continues with exactly the batches an uninterrupted run would have seen.

import { parseOptions } from "../config/parse.js";
import { type Tensor, tensor } from "../tensor.js";
import { type LoaderInput, type LoaderOptions, loaderSchema } from "./config.js";
import { type Dataset, DatasetError, requireDataset } from "./datasets/dataset.js";
import { DecodeError } from "./decode.js";
import { DecodeFailures } from "./failures.js";
import { planStep, RECORD_COLUMNS, type StepPlan } from "./plan.js";
import { Random, type RandomState } from "./random.js";
import { type RgbImage, renderStep } from "./render.js";

/** One step's input, view-major (row v * B + b is view v of image b). */
export interface Batch {
  epoch: number;
  /** Batch number within the epoch (for this rank). */
  index: number;
  /** Images in the batch; fewer than batchSize when files failed to decode (or the last batch). */
  images: number;
  /** Dataset indices of those images. */
  indices: number[];
  /** Class index per image; -1 when unlabelled. */
  labels: Int32Array;
  /** The plan: crop records, photometric parameters, masks, as typed arrays. */
  plan: StepPlan;
  /** (2B, 3, S, S) float32 normalised global views, on the loader's device. */
  global: Tensor;
  /** (V_l B, 3, s, s) local views; null when there are none. */
  local: Tensor | null;
  /** (2B, 5) and (V_l B, 5) float32 records (x, y, width, height, flipped), on the CPU. */
  globalRecords: Tensor;
  localRecords: Tensor | null;
  /** (2B, n, n) uint8 masks of the global views (1 = masked), on the CPU. */
  masks: Tensor;
  /** Frees the batch's native tensors. */
  dispose(): void;
  /** dispose(), for `using`. */
  [Symbol.dispose](): void;
}

/** Where the loader stands: JSON, for checkpoints. */
export interface LoaderState {
  /** The epoch in progress (or next to start) and the next batch of it. */
  epoch: number;
  batch: number;
  /** The planning generator after the last batch handed out. */
  random: RandomState;
}

export interface LoaderMetrics {
  /** Images skipped because they could not be decoded, over the loader's life. */
  skipped: number;
  /** Files (or file#index) that failed, each once. */
  skippedFiles: string[];
}

/** Runs at most `limit` async jobs at once. */
class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await job();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

export class Loader {
  readonly options: LoaderOptions;
  readonly metrics: LoaderMetrics = { skipped: 0, skippedFiles: [] };
  private position: LoaderState;
  private readonly decoding: Limiter;
  private readonly bad = new Set<number>();
  private readonly warn: (message: string) => void;

  constructor(
    readonly dataset: Dataset,
    options: LoaderInput = {},
    hooks: { warn?: (message: string) => void } = {},
  ) {
    requireDataset(dataset, "Loader");
    this.options = parseOptions(loaderSchema, options, "loader options", { knownFieldsOnly: true });
    this.position = { epoch: 0, batch: 0, random: Random.seeded(this.options.seed).state() };
    this.decoding = new Limiter(this.options.decodeConcurrency);
    this.warn = hooks.warn ?? ((message) => process.emitWarning(message, "DataWarning"));
    if (this.shardOrder(0).length < (this.options.dropLast ? this.options.batchSize : 1)) {
      throw new DatasetError(
        `${dataset.path} has ${dataset.size} images: too few for one batch of ${this.options.batchSize} per rank over ${this.options.worldSize} rank(s); lower the batch size (--batch-size-per-gpu; from code a Loader's batchSize, or dropLast false)`,
      );
    }
  }

  /** Dataset indices this rank sees in `epoch`, in order. */
  shardOrder(epoch: number): number[] {
    const { size } = this.dataset;
    const { shuffle, seed, rank, worldSize } = this.options;
    const order = shuffle ? Random.seeded(seed, epoch).permutation(size) : Array.from({ length: size }, (_, i) => i);
    // Every rank gets the same number of images: the tail that does not divide evenly is left out.
    const usable = Math.floor(size / worldSize) * worldSize;
    return order.slice(0, usable).filter((_, i) => i % worldSize === rank);
  }

  batchesPerEpoch(): number {
    const n = this.shardOrder(0).length;
    return this.options.dropLast ? Math.floor(n / this.options.batchSize) : Math.ceil(n / this.options.batchSize);
  }

  state(): LoaderState {
    return { ...this.position, random: [...this.position.random] as unknown as RandomState };
  }

  restore(state: LoaderState): void {
    Random.fromState(state.random); // validates
    if (!Number.isInteger(state.epoch) || !Number.isInteger(state.batch) || state.epoch < 0 || state.batch < 0) {
      throw new TypeError("Loader.restore: epoch and batch must be non-negative integers, as state() returns");
    }
    // past the epoch's last batch, the epoch would yield none: a state of another dataset or batch size
    const count = this.batchesPerEpoch();
    if (state.batch > count) {
      throw new RangeError(
        `Loader.restore: batch ${state.batch} is past this loader's ${count} batches an epoch; give a state() of a loader of the same data and batch size`,
      );
    }
    this.position = { epoch: state.epoch, batch: state.batch, random: [...state.random] as unknown as RandomState };
  }

  /**
   * The batches of `epoch`, from the restored position when it is in this epoch. Dispose
   * each batch when done with it.
   */
  async *epoch(epoch: number): AsyncGenerator<Batch> {
    // the epoch seeds the order: -1 or NaN would give an order no run of whole epochs has
    if (!Number.isInteger(epoch) || epoch < 0)
      throw new RangeError(`Loader.epoch(epoch): epoch must be a whole number from 0, given ${String(epoch)}`);
    if (this.position.epoch !== epoch) this.position = { epoch, batch: 0, random: this.position.random };
    const order = this.shardOrder(epoch);
    const { batchSize, prefetch } = this.options;
    const count = this.batchesPerEpoch();
    const random = Random.fromState(this.position.random);
    const failures = new DecodeFailures(this.dataset, order.length, this.options.maxFailureShare, "this epoch's");
    const fromStart = this.position.batch === 0;
    let decoded = 0;
    let planTurn: Promise<unknown> = Promise.resolve();
    const prepare = (index: number) => {
      const indices = order.slice(index * batchSize, (index + 1) * batchSize);
      const decoded = this.decode(indices, failures);
      // Awaited in the planning turn below, which may come after the decode has failed.
      decoded.catch(() => undefined);
      // Planning draws from the shared stream, so batches take their turn in order.
      const planned = planTurn.then(async () => {
        const images = await decoded;
        const plan = planStep(
          random,
          images.map((i) => i.image),
          this.options.views,
        );
        return { images, plan, randomAfter: random.state() };
      });
      planTurn = planned.catch(() => undefined);
      const batch = planned.then(({ images, plan, randomAfter }) => this.render(epoch, index, images, plan).then((b) => ({ batch: b, randomAfter })));
      batch.catch(() => undefined); // awaited below; avoids an unhandled rejection while queued
      return batch;
    };
    const inFlight: ReturnType<typeof prepare>[] = [];
    let next = this.position.batch;
    while (inFlight.length < prefetch && next < count) inFlight.push(prepare(next++));
    try {
      while (inFlight.length > 0) {
        const { batch, randomAfter } = await inFlight.shift()!;
        if (next < count) inFlight.push(prepare(next++));
        this.position = { epoch, batch: (batch?.index ?? this.position.batch) + 1, random: randomAfter };
        if (batch) {
          decoded += batch.images;
          yield batch;
        }
      }
      // Possible only when every failure is allowed: an epoch of no images is no training.
      if (fromStart && decoded === 0) throw failures.noneDecoded();
      this.position = { epoch: epoch + 1, batch: 0, random: this.position.random };
    } finally {
      // A consumer that stops early leaves prepared batches behind: free them.
      for (const pending of inFlight)
        void pending.then(
          ({ batch }) => batch?.dispose(),
          () => undefined,
        );
    }
  }

  private async decode(indices: number[], failures: DecodeFailures) {
    const detail = { size: this.options.views.globalSize, minScale: this.options.views.globalScale[0] };
    const results = await Promise.all(
      indices.map((index) =>
        this.decoding.run(async () => {
          if (this.bad.has(index)) return this.fail(index, undefined, failures);
          try {
            return { index, image: await this.dataset.load(index, detail) };
          } catch (err) {
            if (!(err instanceof DecodeError)) throw err;
            return this.fail(index, err, failures);
          }
        }),
      ),
    );
    return results.filter((r): r is { index: number; image: RgbImage } => r !== null);
  }

  private fail(index: number, err: DecodeError | undefined, failures: DecodeFailures): null {
    this.metrics.skipped++;
    if (err) {
      this.bad.add(index);
      this.metrics.skippedFiles.push(this.dataset.describe(index));
      // once the pass has stopped, images still decoding beside it fail without a word
      if (!failures.exceeded) this.warn(`skipping an image that cannot be decoded: ${err.message}`);
    }
    failures.add(index, err?.reason);
    return null;
  }

  private async render(epoch: number, index: number, decoded: { index: number; image: RgbImage }[], plan: StepPlan): Promise<Batch | null> {
    if (decoded.length === 0) return null;
    const { mean, std, device, renderThreads } = this.options;
    const images = decoded.map((d) => d.image);
    const { global, local } = await renderStep(plan, images, { mean, std }, device, renderThreads);
    const n = plan.maskSide;
    const globalRecords = tensor(plan.global.recordTable, [plan.global.records.length, RECORD_COLUMNS]);
    const localRecords = plan.local.records.length > 0 ? tensor(plan.local.recordTable, [plan.local.records.length, RECORD_COLUMNS]) : null;
    const masks = tensor(plan.masks, [2 * plan.images, n, n]);
    const indices = decoded.map((d) => d.index);
    const dispose = () => {
      for (const t of [global, local, globalRecords, localRecords, masks]) t?.dispose();
    };
    return {
      epoch,
      index,
      images: plan.images,
      indices,
      labels: Int32Array.from(indices, (i) => this.dataset.label(i)),
      plan,
      global,
      local,
      globalRecords,
      localRecords,
      masks,
      dispose,
      [Symbol.dispose]: dispose,
    };
  }
}
