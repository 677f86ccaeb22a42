#include "augment/mix.h"

namespace sere::augment {

at::Tensor SmoothedOneHot(const at::Tensor& labels, int64_t classes, double smoothing) {
  TORCH_CHECK(labels.dim() == 1, "labels must be (N), got ", labels.sizes());
  TORCH_CHECK(labels.numel() == 0 || (labels.min().item<int64_t>() >= 0 && labels.max().item<int64_t>() < classes),
              "labels must be class indices in [0, ", classes, ")");
  const double off = smoothing / static_cast<double>(classes);
  auto rows = at::full({labels.size(0), classes}, off, labels.options().dtype(at::kFloat));
  return rows.scatter_(1, labels.to(at::kLong).unsqueeze(1), 1.0 - smoothing + off);
}

std::pair<at::Tensor, at::Tensor> MixBatch(const at::Tensor& images, const at::Tensor& labels, int64_t classes,
                                           double smoothing, const MixPlan& plan) {
  TORCH_CHECK(images.dim() == 4 && images.size(0) == labels.size(0), "images must be (N, C, H, W) with one label each");
  TORCH_CHECK(plan.lambda >= 0 && plan.lambda <= 1, "the mixing weight must be in [0, 1], got ", plan.lambda);
  auto targets = SmoothedOneHot(labels, classes, smoothing);
  if (plan.lambda == 1.0 && !plan.box) return {images, targets};
  targets = targets * plan.lambda + targets.flip(0) * (1.0 - plan.lambda);
  auto flipped = images.flip(0);
  if (!plan.box) return {images * plan.lambda + flipped * (1.0 - plan.lambda), targets};
  const auto& b = *plan.box;
  TORCH_CHECK(
      0 <= b.x0 && b.x0 <= b.x1 && b.x1 <= images.size(3) && 0 <= b.y0 && b.y0 <= b.y1 && b.y1 <= images.size(2),
      "the CutMix box (", b.x0, ", ", b.y0, ")-(", b.x1, ", ", b.y1, ") is not inside the ", images.size(3), "x",
      images.size(2), " images");
  auto mixed = images.clone();
  using at::indexing::Slice;
  auto rows = Slice(b.y0, b.y1), columns = Slice(b.x0, b.x1);
  mixed.index_put_({Slice(), Slice(), rows, columns}, flipped.index({Slice(), Slice(), rows, columns}));
  return {mixed, targets};
}

}  // namespace sere::augment
