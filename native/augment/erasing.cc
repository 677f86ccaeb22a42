#include "augment/erasing.h"

namespace sere::augment {

void EraseBoxes(at::Tensor& images, const at::Tensor& boxes, at::Generator& generator) {
  if (!boxes.defined() || boxes.numel() == 0) return;
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(1) == 5, "erasing boxes must be (M, 5) rows (image, x, y, w, h)");
  auto rows = boxes.to(at::kCPU, at::kLong).contiguous();
  auto r = rows.accessor<int64_t, 2>();
  using at::indexing::Slice;
  for (int64_t i = 0; i < rows.size(0); ++i) {
    const int64_t n = r[i][0], x = r[i][1], y = r[i][2], w = r[i][3], h = r[i][4];
    TORCH_CHECK(0 <= n && n < images.size(0) && 0 <= x && 0 <= y && w >= 0 && h >= 0 && x + w <= images.size(3) &&
                    y + h <= images.size(2),
                "erasing box ", i, " (image ", n, ", x ", x, ", y ", y, ", ", w, "x", h, ") is outside the batch");
    // Drawn on the CPU from the step's own generator, so runs repeat on every device.
    auto noise = at::empty({images.size(1), h, w}, at::TensorOptions().dtype(at::kFloat)).normal_(0, 1, generator);
    images.index_put_({n, Slice(), Slice(y, y + h), Slice(x, x + w)}, noise.to(images.device(), images.scalar_type()));
  }
}

}  // namespace sere::augment
