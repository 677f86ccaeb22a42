// The features an evaluation scores, checked first: an empty split, or features of NaN or
// infinite values (a diverged network, weights that hold NaN), would otherwise give an accuracy
// that measures nothing (NaN, or a plausible 50% of ties).
import type { Tensor } from "../tensor.js";

/** Throws a RangeError, `where` first, unless `features` (rows along all but the last dimension) has rows, all finite. */
export function requireUsableFeatures(where: string, split: "training" | "test", features: Tensor): void {
  const shape = features.shape();
  const width = shape.at(-1) ?? 0;
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  if (rows === 0)
    throw new RangeError(`${where}: the ${split} features have no rows (shape [${shape.join(", ")}]); give at least one ${split} image`);
  const values = features.toArray();
  // integer features hold no NaN
  if (!(values instanceof Float32Array || values instanceof Float64Array)) return;
  let bad = 0;
  let first = -1;
  for (let row = 0; row < rows; row++) {
    const vector = values.subarray(row * width, (row + 1) * width);
    if (vector.every(Number.isFinite)) continue;
    bad++;
    if (first < 0) first = row;
  }
  if (bad === 0) return;
  throw new RangeError(
    `${where}: ${bad} of ${rows} ${split} feature rows hold NaN or infinite values (the first: row ${first}); ` +
      "the network that made them gives no usable output (a diverged run, or weights that hold NaN): evaluate another checkpoint",
  );
}
