#pragma once
// Feature self-relations (docs/method.md#sere-heads) and their alignment between crops
// (docs/method.md#aligning-relations). The SERE heads compute relations with these; the objective aligns them.
#include <ATen/ATen.h>

namespace sere::objective {

// Channel self-relation of x (B, D, n, n) or (B, D, N): (x / s)(x / s)^T, (B, D, D).
// With s = sqrt(N) (the overload without scale) it is the mean over positions of z z^T.
at::Tensor ChannelRelation(const at::Tensor& x, double scale);
at::Tensor ChannelRelation(const at::Tensor& x);

// Spatial self-relation of x (B, D, n, n) or (B, D, N), channels split into `heads`
// groups of d: x x^T * d^-0.5, (B, H, N, N).
at::Tensor SpatialRelation(const at::Tensor& x, int64_t heads);

// Bilinear grid_sample (zero padding, align_corners = false) of maps (M, C, n, n)
// at grids (M, s, s', 2): (M, C, s, s').
at::Tensor SampleMap(const at::Tensor& map, const at::Tensor& grid);

// Two-stage resampling of relations (M, H, N, N), N = n^2: the key axis at
// key_grids, then the query axis at query_grids, for P grid pairs per row at once:
// query_grids (M, P, s, s, 2), key_grids (M, P, s', s', 2) -> (M, P, H, s^2, s'^2).
at::Tensor SampleRelationAtGrids(const at::Tensor& relation, const at::Tensor& query_grids,
                                 const at::Tensor& key_grids);

// The same for one grid pair per row: grids (M, s, s, 2) -> (M, H, s^2, s'^2).
at::Tensor SampleRelation(const at::Tensor& relation, const at::Tensor& query_grid, const at::Tensor& key_grid);

}  // namespace sere::objective
