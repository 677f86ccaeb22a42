// DINO's k-NN protocol on a labelled dataset: features of its train and test splits,
// then weighted k-NN (src/eval/knn.ts).
import { z } from "zod";

import { parseOptions } from "../config/parse.js";
import { requireLabelledSplits } from "../data/datasets/dataset.js";
import { openDataset } from "../data/datasets/open.js";
import { type Embed, type ExtractionWatch, extractFeatures, featureOptionsSchema } from "./features.js";
import { type KnnAccuracy, knnAccuracy, knnOptionsSchema } from "./knn.js";

/** The extraction's options and the k-NN's (its classes are the dataset's), a limit per split. */
export const knnEvaluationOptionsSchema = featureOptionsSchema
  .omit({ limit: true })
  .extend(knnOptionsSchema.omit({ numClasses: true }).shape)
  .extend({
    /** Use only N training / test images, spread evenly over each split (0 or absent: all, as the trainer's knnEvalLimit 0). */
    trainLimit: z.number().int().min(0).optional(),
    testLimit: z.number().int().min(0).optional(),
  });
export type KnnEvaluationOptions = z.input<typeof knnEvaluationOptionsSchema> & ExtractionWatch;

export async function knnEvaluation(dataPath: string, embed: Embed, options: KnnEvaluationOptions = {}): Promise<KnnAccuracy[]> {
  const { warn, signal, onProgress, ...fields } = options;
  const { trainLimit, testLimit, ks, temperature, chunkSize, ...extraction } = parseOptions(
    knnEvaluationOptionsSchema,
    fields,
    "k-NN evaluation options",
    {
      knownFieldsOnly: true,
    },
  );
  const watch = { warn, signal, onProgress };
  const train = openDataset(dataPath, { split: "train" });
  const test = openDataset(dataPath, { split: "test" });
  requireLabelledSplits(train, test, "the k-NN evaluation", warn ?? ((message) => process.emitWarning(message, "DataWarning")));
  const a = await extractFeatures(train, embed, { ...extraction, ...watch, limit: trainLimit });
  let b: Awaited<ReturnType<typeof extractFeatures>> | undefined;
  try {
    b = await extractFeatures(test, embed, { ...extraction, ...watch, limit: testLimit });
    signal?.throwIfAborted();
    return await knnAccuracy(a, b, {
      ks,
      temperature,
      numClasses: train.classes.length,
      chunkSize,
    });
  } finally {
    for (const t of [a.features, a.labels, b?.features, b?.labels]) t?.dispose();
  }
}
