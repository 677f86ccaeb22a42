// Overlap grids (docs/method.md#overlap-grids): from crop records to the grids that align relations.

import type { CropRecord } from "../data/crops.js";
import { native } from "../native/load.js";
import type { NativeSereGrids } from "../native/surface.js";
import { type Tensor, tensor } from "../tensor.js";
import { integer } from "./check.js";

export type SereGrids = NativeSereGrids;

function recordRows(where: string, records: readonly CropRecord[]): Float64Array {
  const rows = new Float64Array(records.length * 5);
  records.forEach((r, i) => {
    for (const key of ["x", "y", "width", "height"] as const) {
      if (typeof r[key] !== "number" || !Number.isFinite(r[key])) {
        throw new RangeError(`${where}: record ${i}: ${key} must be a finite number, got ${String(r[key])}`);
      }
    }
    if (!(r.width > 0 && r.height > 0)) {
      throw new RangeError(`${where}: record ${i}: width and height must be > 0, got ${r.width} x ${r.height}`);
    }
    rows.set([r.x, r.y, r.width, r.height, r.flipped ? 1 : 0], i * 5);
  });
  return rows;
}

/**
 * get_grid for pairs of crops: `query[i]` against `key[i]`, side s. Returns grids
 * (M, s, s, 2) on each crop, in grid_sample's (x, y) convention; -2 where crops are disjoint.
 */
export function overlapGrids(query: readonly CropRecord[], key: readonly CropRecord[], side: number): { query: Tensor; key: Tensor } {
  const where = "overlapGrids()";
  integer(where, "side", side, 2);
  if (query.length !== key.length) {
    throw new RangeError(`${where}: query and key must hold the same number of records (pairs), got ${query.length} and ${key.length}`);
  }
  const q = tensor(recordRows(where, query), [query.length, 5]);
  const k = tensor(recordRows(where, key), [key.length, 5]);
  try {
    return native().overlapGrids(q, k, side);
  } finally {
    q.dispose();
    k.dispose();
  }
}

export interface SereGridSides {
  /** overlap_size: sides of the two global-global pairs (query axis, key axis). Default [13, 13]. */
  globalSides?: readonly [number, number];
  /** Side of the local-global grids: sqrt(N_local). Default 6 (96 px, patch 16). */
  localSide?: number;
}

/** Every grid of one step, from each image's records: `records[b]` = [global 1, global 2, local 1, ...]. */
export function sereGrids(records: readonly (readonly CropRecord[])[], sides: SereGridSides = {}): SereGrids {
  const where = "sereGrids()";
  const [s1, s2] = sides.globalSides ?? [13, 13];
  integer(where, "globalSides[0]", s1, 2);
  integer(where, "globalSides[1]", s2, 2);
  const sl = integer(where, "localSide", sides.localSide ?? 6, 2);
  if (records.length === 0) throw new RangeError(`${where}: records must hold at least one image`);
  const views = records[0]!.length;
  if (views < 2) throw new RangeError(`${where}: each image needs its 2 global views first, got ${views} views`);
  records.forEach((r, b) => {
    if (r.length !== views) throw new RangeError(`${where}: image ${b} has ${r.length} views, image 0 has ${views}; all must have the same`);
  });
  const t = tensor(recordRows(where, records.flat()), [records.length, views, 5]);
  try {
    return native().sereGrids(t, s1, s2, sl);
  } finally {
    t.dispose();
  }
}

export function disposeGrids(grids: SereGrids): void {
  for (const t of Object.values(grids)) t.dispose();
}
