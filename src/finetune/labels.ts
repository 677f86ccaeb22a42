// The semi-supervised protocol's training subset (--label-fraction): the same share of every
// class, drawn with the run's seed, so 1% of Fashion-MNIST keeps 60 images of each class.

import { Random } from "../data/random.js";

/**
 * Indices of the images to train on: of each class, round(fraction * count) images (at
 * least one), chosen by a seeded shuffle; in ascending order. `labels[i]` is image i's class.
 */
export function labelledSubset(labels: readonly number[], fraction: number, seed: number): number[] {
  if (fraction >= 1) return labels.map((_, i) => i);
  const byClass = new Map<number, number[]>();
  labels.forEach((label, index) => {
    if (!byClass.has(label)) byClass.set(label, []);
    byClass.get(label)!.push(index);
  });
  const random = Random.seeded(seed, 0x1abe1);
  const kept: number[] = [];
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const members = byClass.get(label)!;
    const order = random.permutation(members.length);
    const count = Math.max(1, Math.round(fraction * members.length));
    for (const k of order.slice(0, count)) kept.push(members[k]!);
  }
  return kept.sort((a, b) => a - b);
}
