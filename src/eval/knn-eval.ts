// DINO's k-NN protocol on a labelled dataset: features of its train and test splits,
// then weighted k-NN (src/eval/knn.ts).
import { requireLabels } from "../data/datasets/dataset.js";
import { openDataset } from "../data/datasets/open.js";
import { type Embed, extractFeatures, type FeatureOptions } from "./features.js";
import { type KnnAccuracy, type KnnOptions, knnAccuracy } from "./knn.js";

export interface KnnEvaluationOptions extends FeatureOptions, KnnOptions {
  /** Use only the first N training / test images (default: all). */
  trainLimit?: number;
  testLimit?: number;
}

export async function knnEvaluation(dataPath: string, embed: Embed, options: KnnEvaluationOptions = {}): Promise<KnnAccuracy[]> {
  const train = openDataset(dataPath, { split: "train" });
  const test = openDataset(dataPath, { split: "test" });
  for (const split of [train, test]) requireLabels(split, "the k-NN evaluation");
  const a = await extractFeatures(train, embed, { ...options, limit: options.trainLimit });
  let b: Awaited<ReturnType<typeof extractFeatures>> | undefined;
  try {
    b = await extractFeatures(test, embed, { ...options, limit: options.testLimit });
    options.signal?.throwIfAborted();
    return await knnAccuracy(a, b, {
      ks: options.ks,
      temperature: options.temperature,
      numClasses: train.classes.length,
      chunkSize: options.chunkSize,
    });
  } finally {
    for (const t of [a.features, a.labels, b?.features, b?.labels]) t?.dispose();
  }
}
