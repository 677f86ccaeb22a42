#pragma once
// Overlap grids (docs/method.md#overlap-grids): for two crops of one image, s x s points of each
// crop that fall on the same places of the source image, in grid_sample's [-1, 1]
// (x, y) convention. Disjoint crops get grids full of -2, which sample to zeros.
#include <ATen/ATen.h>

namespace sere::objective {

// Crop records are rows (x, y, w, h, flipped) in source-image pixels; flipped is 0 or 1.
struct GridPair {
  at::Tensor query;  // (M, s, s, 2) float32, on the query crops
  at::Tensor key;    // (M, s, s, 2) float32, on the key crops
};

// get_grid for M record pairs at once: query_records and key_records are (M, 5).
GridPair OverlapGrids(const at::Tensor& query_records, const at::Tensor& key_records, int64_t side);

// Every grid one step needs, from records (B, 2 + V_l, 5) with the two global views first.
struct SereGrids {
  // Global-global alignment, rows stacked [view 1; view 2]: view-1 rows hold grid q,
  // view-2 rows grid k of get_grid(view 1, view 2, side).
  at::Tensor global_query_axis;  // (2B, s1, s1, 2), pair of side overlap_size[0]
  at::Tensor global_key_axis;    // (2B, s2, s2, 2), pair of side overlap_size[1]
  // Local-global pairs, get_grid(local v, global g, s): both sides of each pair.
  at::Tensor global_to_local;  // (2B, V_l, s, s, 2): row (g, b), column v: the global side
  at::Tensor local_to_global;  // (V_l B, 2, s, s, 2): row (v, b), column g: the local side
};

SereGrids BuildSereGrids(const at::Tensor& records, int64_t global_query_side, int64_t global_key_side,
                         int64_t local_side);

}  // namespace sere::objective
