#include "objective/grids.h"

#include <algorithm>

namespace sere::objective {
namespace {

constexpr double kOutside = -2;  // any value outside [-1, 1]: zero padding samples 0 there

void CheckRecords(const at::Tensor& records, const char* what) {
  TORCH_CHECK(records.dim() == 2 && records.size(1) == 5, what,
              " must be crop records of shape (M, 5) = (x, y, w, h, flipped) per row, got ", records.sizes());
  TORCH_CHECK((records.select(1, 2) > 0).all().item<bool>() && (records.select(1, 3) > 0).all().item<bool>(), what,
              ": crop width and height must be > 0");
}

// The s x s points of one side of each pair: (M, s, s, 2).
at::Tensor PlacePoints(const at::Tensor& crop, const at::Tensor& ox0, const at::Tensor& oy0, const at::Tensor& ow,
                       const at::Tensor& oh, const at::Tensor& steps) {
  auto x = crop.select(1, 0), y = crop.select(1, 1), w = crop.select(1, 2), h = crop.select(1, 3);
  // The overlap in this crop's own normalised coordinates.
  auto u0 = (ox0 - x) / w, v0 = (oy0 - y) / h, du = ow / w, dv = oh / h;
  auto u = u0.unsqueeze(1) + steps.unsqueeze(0) * du.unsqueeze(1);  // (M, s): column j
  auto v = v0.unsqueeze(1) + steps.unsqueeze(0) * dv.unsqueeze(1);  // (M, s): row i
  auto flipped = crop.select(1, 4).unsqueeze(1) > 0.5;
  u = at::where(flipped, 1 - u, u);
  int64_t s = steps.size(0);
  auto gx = (2 * u - 1).unsqueeze(1).expand({-1, s, s});  // g[i][j].x depends on j
  auto gy = (2 * v - 1).unsqueeze(2).expand({-1, s, s});  // g[i][j].y depends on i
  return at::stack({gx, gy}, -1);
}

}  // namespace

GridPair OverlapGrids(const at::Tensor& query_records, const at::Tensor& key_records, int64_t side) {
  TORCH_CHECK(side >= 2, "grid side must be >= 2, got ", side);
  CheckRecords(query_records, "query records");
  CheckRecords(key_records, "key records");
  TORCH_CHECK(query_records.size(0) == key_records.size(0),
              "query and key records must pair up: ", query_records.size(0), " vs ", key_records.size(0), " rows");
  auto q = query_records.to(at::kDouble), k = key_records.to(at::kDouble);
  auto right = [](const at::Tensor& r) { return r.select(1, 0) + r.select(1, 2); };
  auto bottom = [](const at::Tensor& r) { return r.select(1, 1) + r.select(1, 3); };
  auto ox0 = at::maximum(q.select(1, 0), k.select(1, 0));
  auto oy0 = at::maximum(q.select(1, 1), k.select(1, 1));
  auto ow = at::minimum(right(q), right(k)) - ox0;
  auto oh = at::minimum(bottom(q), bottom(k)) - oy0;
  auto steps = at::arange(side, q.options()) / static_cast<double>(side - 1);
  auto empty = ((ow <= 0) | (oh <= 0)).view({-1, 1, 1, 1});
  auto finish = [&](const at::Tensor& grid) { return at::where(empty, kOutside, grid).to(at::kFloat); };
  return {finish(PlacePoints(q, ox0, oy0, ow, oh, steps)), finish(PlacePoints(k, ox0, oy0, ow, oh, steps))};
}

SereGrids BuildSereGrids(const at::Tensor& records, int64_t global_query_side, int64_t global_key_side,
                         int64_t local_side) {
  TORCH_CHECK(records.dim() == 3 && records.size(1) >= 2 && records.size(2) == 5,
              "records must be (B, 2 + V_l, 5) crop records, global views first, got ", records.sizes());
  int64_t batch = records.size(0), locals = records.size(1) - 2;
  auto view = [&](int64_t v) { return records.select(1, v); };  // (B, 5)

  SereGrids grids;
  auto pair1 = OverlapGrids(view(0), view(1), global_query_side);
  auto pair2 = OverlapGrids(view(0), view(1), global_key_side);
  grids.global_query_axis = at::cat({pair1.query, pair1.key});
  grids.global_key_axis = at::cat({pair2.query, pair2.key});
  if (locals == 0) {  // no local views: empty local grids, whatever local_side is
    const int64_t s = std::max<int64_t>(local_side, 0);
    auto options = records.options().dtype(at::kFloat);
    grids.global_to_local = at::zeros({2 * batch, 0, s, s, 2}, options);
    grids.local_to_global = at::zeros({0, 2, s, s, 2}, options);
    return grids;
  }

  // All (v, g, b) pairs in one call, ordered v-major, then g, then b.
  auto local_rows = records.slice(1, 2).transpose(0, 1).unsqueeze(1).expand({locals, 2, batch, 5});
  auto global_rows = records.slice(1, 0, 2).transpose(0, 1).unsqueeze(0).expand({locals, 2, batch, 5});
  auto lg = OverlapGrids(local_rows.reshape({-1, 5}), global_rows.reshape({-1, 5}), local_side);
  int64_t s = local_side;
  grids.local_to_global =
      lg.query.view({locals, 2, batch, s, s, 2}).permute({0, 2, 1, 3, 4, 5}).reshape({locals * batch, 2, s, s, 2});
  grids.global_to_local =
      lg.key.view({locals, 2, batch, s, s, 2}).permute({1, 2, 0, 3, 4, 5}).reshape({2 * batch, locals, s, s, 2});
  return grids;
}

}  // namespace sere::objective
