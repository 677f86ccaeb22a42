// Top-1 and top-5 accuracy of a classifier's logits: bookkeeping over (N, classes) numbers.
import type { Tensor } from "../tensor.js";

/**
 * Percent of rows whose label is the highest logit (top-1) or among the five highest (top-5);
 * `columns`: the logits are those columns of each row (default: all).
 */
export function topAccuracy(logits: Tensor, labels: Tensor, columns?: { from: number; count: number }): { top1: number; top5: number } {
  const [n, width] = logits.shape() as [number, number];
  const { from, count: classes } = columns ?? { from: 0, count: width };
  const values = logits.toArray() as Float32Array;
  const truth = labels.toArray() as BigInt64Array;
  let top1 = 0;
  let top5 = 0;
  for (let i = 0; i < n; i++) {
    const row = values.subarray(i * width + from, i * width + from + classes);
    const label = Number(truth[i]);
    const score = row[label]!;
    // The label's rank: how many classes score higher (ties count for the label, as topk's first index may not).
    let above = 0;
    for (let k = 0; k < classes; k++) if (row[k]! > score) above++;
    if (above === 0) top1++;
    if (above < 5) top5++;
  }
  return n === 0 ? { top1: 0, top5: 0 } : { top1: (100 * top1) / n, top5: (100 * top5) / n };
}
