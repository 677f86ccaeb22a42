// Predictions of a fine-tuned classifier (`sere predict`): each image's most probable classes,
// with the softmax of its logits, on DINO's centre crops as the test evaluation sees them.
import type { Dataset } from "../data/datasets/dataset.js";
import { type ClassifyOptions, logitsOf, type OpenedClassifier } from "./classify.js";

export interface Prediction {
  /** The image: its file, or file#index in IDX and CIFAR data. */
  image: string;
  /** Its class in the data, where the data labels it. */
  label?: string;
  /** The classifier's most probable classes, most probable first, with their probabilities. */
  top: Array<{ class: string; probability: number }>;
}

export interface PredictOptions extends Omit<ClassifyOptions, "size" | "withAverage"> {
  /** How many classes each prediction lists; default 5 (all where the classifier has fewer). */
  classes?: number;
}

/** The classifier's predictions for every image of `dataset` that decodes, and the images that do not. */
export async function predict(
  classifier: OpenedClassifier,
  dataset: Dataset,
  o: PredictOptions,
): Promise<{ predictions: Prediction[]; skipped: string[] }> {
  if (o.classes !== undefined && !(Number.isInteger(o.classes) && o.classes > 0)) {
    throw new RangeError(`predict: classes must be a whole number of at least 1, given ${String(o.classes)}`);
  }
  const names = classifier.classes ?? Array.from({ length: classifier.numClasses }, (_, i) => String(i));
  const {
    features: logits,
    labels,
    images,
    skipped,
  } = await logitsOf(dataset, (batch) => classifier.step.logits(batch), {
    ...o,
    size: classifier.size,
  });
  try {
    const [rows, width] = logits.shape() as [number, number];
    const values = logits.toArray() as Float32Array;
    const truth = labels.toArray() as BigInt64Array;
    const listed = Math.min(o.classes ?? 5, width);
    const predictions = Array.from({ length: rows }, (_, r): Prediction => {
      const probability = softmax(values.subarray(r * width, (r + 1) * width));
      const order = Array.from({ length: width }, (_, k) => k).sort((a, b) => probability[b]! - probability[a]! || a - b);
      const label = Number(truth[r]);
      return {
        image: images[r]!,
        ...(label >= 0 ? { label: dataset.classes[label] ?? String(label) } : {}),
        top: order.slice(0, listed).map((k) => ({ class: names[k] ?? String(k), probability: probability[k]! })),
      };
    });
    return { predictions, skipped };
  } finally {
    logits.dispose();
    labels.dispose();
  }
}

/** exp(x - max) / sum, in float64. */
function softmax(row: Float32Array): Float64Array {
  const max = row.reduce((m, x) => Math.max(m, x), Number.NEGATIVE_INFINITY);
  const out = Float64Array.from(row, (x) => Math.exp(x - max));
  const sum = out.reduce((s, x) => s + x, 0);
  return out.map((x) => x / sum);
}
