// Weighted k-NN evaluation (DINO's protocol, docs/method.md#weighted-k-nn) on features held in native memory.
import { z } from "zod";

import { parseOptions } from "../config/parse.js";
import { native } from "../native/load.js";
import type { Tensor } from "../tensor.js";

export const knnOptionsSchema = z.object({
  /** The k to report; DINO's sweep is [10, 20, 100, 200]. */
  ks: z.array(z.number().int().positive()).nonempty().default([20]),
  temperature: z.number().positive().default(0.07),
  /** 0: one more than the largest label. */
  numClasses: z.number().int().min(0).default(0),
  /** Test features compared with all training features at once; bounds memory. */
  chunkSize: z.number().int().positive().default(256),
});
export type KnnOptions = z.input<typeof knnOptionsSchema>;

/** DINO's sweep of k. */
export const DINO_KS = [10, 20, 100, 200];

/** DINO's ks that a search of `searched` training images can give: all of them but for a small dataset (else just `searched`). */
export function dinoKsFor(searched: number): number[] {
  const ks = DINO_KS.filter((k) => k <= searched);
  return ks.length > 0 ? ks : [searched];
}

export interface KnnAccuracy {
  k: number;
  /** Percent of test features whose true class ranks first. */
  top1: number;
  /** Percent whose true class ranks in the first five. */
  top5: number;
}

/**
 * Classifies each test feature by the k training features most similar to it (cosine
 * similarity of L2-normalised features), each voting exp(similarity / temperature) for
 * its class; equal votes rank the lower class first. Runs on the training features'
 * device, the test features in chunks.
 */
export async function knnAccuracy(
  train: { features: Tensor; labels: Tensor },
  test: { features: Tensor; labels: Tensor },
  options: KnnOptions = {},
): Promise<KnnAccuracy[]> {
  const o = parseOptions(knnOptionsSchema, options, "k-NN options", { knownFieldsOnly: true });
  const [nTrain, nTest] = [train.features.shape()[0]!, test.features.shape()[0]!];
  if (train.labels.shape()[0] !== nTrain || test.labels.shape()[0] !== nTest) {
    throw new RangeError("k-NN: give exactly one label per feature");
  }
  // the native search refuses empty splits, features of NaN or infinite values, and a k above the training features
  return native().knn(train.features, train.labels, test.features, test.labels, o);
}
