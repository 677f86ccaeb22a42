import { readWeightGroups } from "../../src/model/weights.js";
import type { Tensor } from "../../src/tensor.js";

export const FIXTURE = new URL("../fixtures/model/vit_reference.pth", import.meta.url).pathname;

/** The fixture's groups as name -> tensor maps. */
export async function readFixture(path = FIXTURE): Promise<Record<string, Map<string, Tensor>>> {
  const groups = await readWeightGroups(path);
  return Object.fromEntries(groups.map(([key, entries]) => [key, new Map(entries)]));
}

export function maxAbsDiff(a: Tensor, b: Tensor): number {
  // Integer tensors (BatchNorm's num_batches_tracked) come as BigInt64Array: compared as numbers.
  const x = Array.from(a.toArray() as ArrayLike<number | bigint>, Number);
  const y = Array.from(b.toArray() as ArrayLike<number | bigint>, Number);
  if (x.length !== y.length) throw new Error(`sizes differ: ${x.length} vs ${y.length}`);
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
  return worst;
}
