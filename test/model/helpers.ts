import { Model } from "../../src/index.js";
import { readWeightGroups } from "../../src/model/weights.js";
import type { Tensor } from "../../src/tensor.js";
import type { TestDevice } from "../devices.js";

export const FIXTURE = new URL("../fixtures/model/vit_reference.pth", import.meta.url).pathname;

/** The fixture's groups as name -> tensor maps. */
export async function readFixture(path = FIXTURE): Promise<Record<string, Map<string, Tensor>>> {
  const groups = await readWeightGroups(path);
  return Object.fromEntries(groups.map(([key, entries]) => [key, new Map(entries)]));
}

/** The fixture's network on `device`, with its weights: a 2-block ViT of width 48 on 32 px, masking, separate heads. */
export async function loadFixtureModel(device: TestDevice): Promise<Model> {
  const model = Model.create({
    arch: "custom",
    embedDim: 48,
    depth: 2,
    numHeads: 3,
    patchSize: 8,
    imgSize: 32,
    maskedImModeling: true,
    localHeads: false,
    head: { outDim: 64, hiddenDim: 32, bottleneckDim: 16, sharedHead: false, normLastLayer: false },
    device,
  });
  await model.load(FIXTURE, { checkpointKey: "weights" });
  return model;
}

/**
 * max |a - b| over the scale of `b` (its largest |value|, at least 1). On CUDA, cuDNN's TF32
 * convolutions round to about 5e-4 of a value's magnitude, so bounds there are relative.
 */
export function maxScaledDiff(a: Tensor, b: Tensor): number {
  const scale = Array.from(b.toArray() as ArrayLike<number>).reduce((largest, v) => Math.max(largest, Math.abs(v)), 1);
  return maxAbsDiff(a, b) / scale;
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
