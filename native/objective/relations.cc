#include "objective/relations.h"

#include <cmath>

#include "runtime/precision.h"

namespace sere::objective {
namespace {

// (B, D, n, n) or (B, D, N) -> (B, D, N) in at least fp32.
at::Tensor Flattened(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 3 || x.dim() == 4, "features must be (B, D, n, n) or (B, D, N), got ", x.sizes());
  return AtLeastFloat32(x).flatten(2);
}

// The side n of the square map that N positions form.
int64_t MapSide(int64_t positions) {
  auto n = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(positions))));
  TORCH_CHECK(n * n == positions, "relations must be over a square n x n grid of positions, got N = ", positions);
  return n;
}

}  // namespace

at::Tensor ChannelRelation(const at::Tensor& x, double scale) {
  NoAutocast fp32;
  TORCH_CHECK(scale > 0, "channel relation scale must be > 0, got ", scale);
  auto f = Flattened(x) / scale;
  return at::bmm(f, f.transpose(1, 2));
}

at::Tensor ChannelRelation(const at::Tensor& x) {
  return ChannelRelation(x, std::sqrt(static_cast<double>(Flattened(x).size(2))));
}

at::Tensor SpatialRelation(const at::Tensor& x, int64_t heads) {
  NoAutocast fp32;
  auto f = Flattened(x);
  int64_t batch = f.size(0), channels = f.size(1), positions = f.size(2);
  TORCH_CHECK(heads >= 1 && channels % heads == 0, "spatial relation: ", channels, " channels do not split into ",
              heads, " heads");
  int64_t d = channels / heads;
  auto groups = f.view({batch, heads, d, positions}).transpose(2, 3);  // (B, H, N, d)
  return at::matmul(groups, groups.transpose(2, 3)) * std::pow(static_cast<double>(d), -0.5);
}

at::Tensor SampleMap(const at::Tensor& map, const at::Tensor& grid) {
  NoAutocast fp32;
  TORCH_CHECK(map.dim() == 4 && grid.dim() == 4 && grid.size(3) == 2 && grid.size(0) == map.size(0),
              "SampleMap: map (M, C, n, n) and grid (M, s, s', 2) expected, got ", map.sizes(), " and ", grid.sizes());
  return at::grid_sampler(map, grid.to(map.device(), map.scalar_type()), /*bilinear*/ 0, /*zeros*/ 0,
                          /*align_corners*/ false);
}

at::Tensor SampleRelationAtGrids(const at::Tensor& relation, const at::Tensor& query_grids,
                                 const at::Tensor& key_grids) {
  TORCH_CHECK(relation.dim() == 4 && relation.size(2) == relation.size(3), "relations must be (M, H, N, N), got ",
              relation.sizes());
  TORCH_CHECK(query_grids.dim() == 5 && key_grids.dim() == 5 && query_grids.size(0) == relation.size(0) &&
                  key_grids.size(0) == relation.size(0) && query_grids.size(1) == key_grids.size(1),
              "grids must be (M, P, s, s, 2) for relations of ", relation.size(0), " rows, got ", query_grids.sizes(),
              " and ", key_grids.sizes());
  auto r = AtLeastFloat32(relation);
  int64_t rows = r.size(0), heads = r.size(1), positions = r.size(2), n = MapSide(positions);
  int64_t pairs = query_grids.size(1), sq = query_grids.size(2), sk = key_grids.size(2);

  // Key axis: each row's P key grids side by side as one wide grid, so the big
  // relation is read once: (M, H*N, n, n) -> (M, H, N, sk, P, sk).
  auto wide = key_grids.permute({0, 2, 1, 3, 4}).reshape({rows, sk, pairs * sk, 2});
  auto keyed =
      SampleMap(r.reshape({rows, heads * positions, n, n}), wide).view({rows, heads, positions, sk, pairs, sk});

  // Query axis: per (row, pair) its own query grid: (M*P, H*Tk, n, n) -> (M*P, H*Tk, sq, sq).
  auto by_pair = keyed.permute({0, 4, 1, 3, 5, 2}).reshape({rows * pairs, heads * sk * sk, n, n});
  auto both = SampleMap(by_pair, query_grids.reshape({rows * pairs, sq, sq, 2}));
  return both.view({rows, pairs, heads, sk * sk, sq * sq}).transpose(3, 4);
}

at::Tensor SampleRelation(const at::Tensor& relation, const at::Tensor& query_grid, const at::Tensor& key_grid) {
  return SampleRelationAtGrids(relation, query_grid.unsqueeze(1), key_grid.unsqueeze(1)).squeeze(1);
}

}  // namespace sere::objective
