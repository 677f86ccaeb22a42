#pragma once
// Random erasing (timm's RandomErasing, mode "pixel", as the fine-tuning recipe uses it on
// normalised images): a box of each chosen image is replaced by standard normal noise, one
// value per pixel and channel. The boxes are drawn by the caller (src/finetune/erasing.ts);
// the noise comes from `generator`.
#include <ATen/ATen.h>

namespace sere::augment {

// boxes: (M, 5) int64 rows (image, x, y, width, height); images (N, C, H, W) are changed in place.
void EraseBoxes(at::Tensor& images, const at::Tensor& boxes, at::Generator& generator);

}  // namespace sere::augment
