#pragma once
// Mixup and CutMix on a batch (timm's Mixup in "batch" mode, as BEiT's and iBOT's fine-tuning
// use): every image is mixed with the image at the mirrored batch position (the batch
// flipped), and the targets become the same mix of the two label-smoothed one-hot rows.
// The mixing weight and the box are drawn by the caller (src/finetune/mix.ts).
#include <ATen/ATen.h>

#include <optional>
#include <utility>

namespace sere::augment {

// What one batch gets. Without a box: mixup, images * lambda + flipped * (1 - lambda).
// With a box: CutMix, the flipped batch's pixels pasted into the box; lambda is then the
// share of each image the box leaves uncovered.
struct MixPlan {
  double lambda = 1.0;
  struct Box {
    int64_t x0, y0, x1, y1;  // pixel columns [x0, x1) and rows [y0, y1)
  };
  std::optional<Box> box;
};

// One-hot rows (N, classes) with `smoothing` spread over all classes: off = smoothing / classes,
// on = 1 - smoothing + off (timm's one_hot with label smoothing).
at::Tensor SmoothedOneHot(const at::Tensor& labels, int64_t classes, double smoothing);

// (mixed images, soft targets (N, classes) float32) for images (N, C, H, W) and labels (N).
std::pair<at::Tensor, at::Tensor> MixBatch(const at::Tensor& images, const at::Tensor& labels, int64_t classes,
                                           double smoothing, const MixPlan& plan);

}  // namespace sere::augment
