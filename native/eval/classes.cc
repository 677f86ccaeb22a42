#include "eval/classes.h"

#include <c10/util/Exception.h>

#include <algorithm>

namespace sere::eval {

int64_t ClassCount(const at::Tensor& train_labels, const at::Tensor& test_labels, int64_t num_classes) {
  if (train_labels.numel() == 0 && test_labels.numel() == 0) return std::max<int64_t>(num_classes, 1);
  const auto all =
      at::cat({train_labels.flatten().to(at::kCPU, at::kLong), test_labels.flatten().to(at::kCPU, at::kLong)});
  const int64_t lowest = all.min().item<int64_t>();
  const int64_t highest = all.max().item<int64_t>();
  TORCH_CHECK(lowest >= 0, "a label of ", lowest,
              " is no class index (an unlabelled image's label is -1): give every image a class");
  if (num_classes <= 0) return highest + 1;
  TORCH_CHECK(highest < num_classes, "a label of ", highest, " is past numClasses ", num_classes,
              ": give numClasses above the largest label, or 0 to count them");
  return num_classes;
}

}  // namespace sere::eval
