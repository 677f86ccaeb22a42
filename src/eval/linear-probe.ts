// Linear probe on frozen features (DINO's protocol, on features extracted once): SGD with
// momentum 0.9 and a cosine schedule, swept over learning rates; the best is reported.
// Training features (V, N, D) hold V augmented views per image; epoch e uses view e mod V.
import { z } from "zod";

import { parseOptions } from "../config/parse.js";
import { native } from "../native/load.js";
import type { Tensor } from "../tensor.js";

export const linearProbeOptionsSchema = z.object({
  lrs: z.array(z.number().positive()).nonempty().default([0.001, 0.01, 0.1, 1]),
  epochs: z.number().int().positive().default(100),
  batchSize: z.number().int().positive().default(256),
  momentum: z.number().min(0).max(1).default(0.9),
  weightDecay: z.number().min(0).default(0),
  /** 0: one more than the largest label. */
  numClasses: z.number().int().min(0).default(0),
  seed: z.number().int().min(0).default(0),
});
export type LinearProbeOptions = z.input<typeof linearProbeOptionsSchema> & {
  /** Stops the probe within one optimiser step: it rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Told the epochs done (all learning rates together) of `total`, at the start, every `progressEveryMs` and at the end. */
  onProgress?: (done: number, total: number) => void;
  progressEveryMs?: number;
};

export interface LinearProbeResult {
  /** Every learning rate of the sweep with its test accuracy (percent). */
  sweep: Array<{ lr: number; top1: number; top5: number }>;
  best: { lr: number; top1: number; top5: number };
}

export async function linearProbe(
  train: { features: Tensor; labels: Tensor },
  test: { features: Tensor; labels: Tensor },
  options: LinearProbeOptions = {},
): Promise<LinearProbeResult> {
  // the probe's fields, each checked; the rest watch it
  const { signal, onProgress, progressEveryMs, ...fields } = options;
  const o = parseOptions(linearProbeOptionsSchema, fields, "linear probe options", { knownFieldsOnly: true });
  const trainImages = train.features.shape().length === 3 ? train.features.shape()[1] : train.features.shape()[0];
  if (train.labels.shape()[0] !== trainImages || test.labels.shape()[0] !== test.features.shape()[0]) {
    throw new RangeError("linear probe: give exactly one label per image (training features are (N, D) or (views, N, D))");
  }
  // the native probe refuses empty splits and features of NaN or infinite values
  const sweep = await watched(o.lrs.length * o.epochs, { signal, onProgress, progressEveryMs }, (control) =>
    native().linearProbe(train.features, train.labels, test.features, test.labels, { ...o, control }),
  );
  const best = sweep.reduce((a, b) => (b.top1 > a.top1 ? b : a));
  return { sweep, best };
}

/**
 * Runs the native probe with its control cells (src/native/surface.ts): the signal stops
 * it, and the epochs it has done are polled for `onProgress`.
 */
async function watched<T>(totalEpochs: number, options: LinearProbeOptions, run: (control: Int32Array) => Promise<T>): Promise<T> {
  const { signal, onProgress } = options;
  signal?.throwIfAborted();
  // [0]: non-zero asks the probe to stop; [1]: epochs done. Shared with the worker thread.
  const control = new Int32Array(new SharedArrayBuffer(8));
  const stop = () => Atomics.store(control, 0, 1);
  signal?.addEventListener("abort", stop, { once: true });
  const report = () => onProgress?.(Atomics.load(control, 1), totalEpochs);
  report();
  const timer = onProgress ? setInterval(report, options.progressEveryMs ?? 1000) : undefined;
  try {
    const result = await run(control);
    onProgress?.(totalEpochs, totalEpochs);
    return result;
  } catch (err) {
    throw signal?.aborted ? signal.reason : err;
  } finally {
    clearInterval(timer);
    signal?.removeEventListener("abort", stop);
  }
}
