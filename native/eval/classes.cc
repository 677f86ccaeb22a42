#include "eval/classes.h"

#include <c10/util/Exception.h>

#include <algorithm>

namespace sere::eval {

void RequireUsableFeatures(const at::Tensor& features, const char* evaluation, const char* split) {
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < features.dim(); ++d) rows *= features.size(d);
  TORCH_CHECK(rows > 0, evaluation, ": the ", split, " features have no rows (shape ", features.sizes(),
              "); give at least one ", split, " image");
  // integer features hold no NaN; rows of no width hold nothing
  if (!at::isFloatingType(features.scalar_type()) || features.numel() == 0) return;
  const auto bad = at::isfinite(features).reshape({rows, -1}).all(1).logical_not();
  const int64_t count = bad.sum().item<int64_t>();
  if (count == 0) return;
  const int64_t first = at::nonzero(bad)[0][0].item<int64_t>();
  TORCH_CHECK(false, evaluation, ": ", count, " of ", rows, " ", split,
              " feature rows hold NaN or infinite values (the first: row ", first,
              "); the network that made them gives no usable output (a diverged run, or weights that hold NaN): "
              "evaluate another checkpoint");
}

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
