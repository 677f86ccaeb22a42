#pragma once
// Batched ops that change only some images of a batch: each op runs once, on the images
// that need it, with one parameter per selected image.
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace sere::augment {

// Replaces the images at `idx` (rows of `images`) by `op` of them; the others stay as they are.
template <class Op>
void ApplyTo(at::Tensor& images, const std::vector<int64_t>& idx, Op op) {
  if (idx.empty()) return;
  at::Tensor index = at::tensor(idx, at::kLong).to(images.device());
  images.index_copy_(0, index, op(images.index_select(0, index)));
}

}  // namespace sere::augment
