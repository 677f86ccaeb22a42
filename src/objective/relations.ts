// Feature self-relations (docs/method.md#sere-heads) and their bilinear resampling (docs/method.md#aligning-relations).
import { native } from "../native/load.js";
import type { Tensor } from "../tensor.js";
import { integer, positive, ShapeCheck } from "./check.js";

function features(where: string, x: Tensor): ShapeCheck {
  const check = new ShapeCheck(where);
  const dims = x.shape().length === 4 ? ["B", "D", "n", "n"] : ["B", "D", "N"];
  check.tensor("x", x, dims, "features are (B, D, n, n) maps or (B, D, N)");
  check.floating("x", x);
  return check;
}

/**
 * Channel self-relation (x / s)(x / s)^T, (B, D, D); s defaults to sqrt(N). `x` is channels
 * first: (B, D, N) or (B, D, n, n), as the SERE heads give it; a backbone's tokens (B, 1 + N, D)
 * are that without the CLS token, transposed.
 */
export function channelRelation(x: Tensor, scale?: number): Promise<Tensor> {
  features("channelRelation()", x);
  if (scale !== undefined) positive("channelRelation()", "scale", scale);
  return native().channelRelation(x, scale);
}

/** Spatial self-relation per head, x x^T * d^-0.5, (B, H, N, N); `x` channels first, as channelRelation's. */
export function spatialRelation(x: Tensor, heads: number): Promise<Tensor> {
  const where = "spatialRelation()";
  const check = features(where, x);
  integer(where, "heads", heads, 1);
  const channels = check.size("D");
  if (channels % heads !== 0) throw new RangeError(`${where}: ${channels} channels do not split into ${heads} heads; D must be a multiple of heads`);
  return native().spatialRelation(x, heads);
}

/** Bilinear grid_sample (zero padding, align_corners = false): maps (M, C, n, n) at grids (M, s, s', 2). */
export function sampleMap(map: Tensor, grid: Tensor): Promise<Tensor> {
  const check = new ShapeCheck("sampleMap()");
  check.tensor("map", map, ["M", "C", "h", "w"]);
  check.tensor("grid", grid, ["M", "s", "s'", 2]);
  return native().sampleMap(map, grid);
}

/**
 * Two-stage resampling of relations (M, H, N, N): the key axis at keyGrid, then the
 * query axis at queryGrid, grids (M, s, s, 2) -> (M, H, s_q^2, s_k^2).
 */
export function sampleRelation(relation: Tensor, queryGrid: Tensor, keyGrid: Tensor): Promise<Tensor> {
  const check = new ShapeCheck("sampleRelation()");
  check.tensor("relation", relation, ["M", "H", "N", "N"], "a relation is square over its N = n^2 positions");
  const n = Math.round(Math.sqrt(check.size("N")));
  if (n * n !== check.size("N")) throw new RangeError(`sampleRelation(): N = ${check.size("N")} positions do not form a square n x n map`);
  check.tensor("queryGrid", queryGrid, ["M", "sq", "sq", 2]);
  check.tensor("keyGrid", keyGrid, ["M", "sk", "sk", 2]);
  return native().sampleRelation(relation, queryGrid, keyGrid);
}
