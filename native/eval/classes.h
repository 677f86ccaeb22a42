#pragma once
// The classes an evaluation scores: how many, from the labels of both splits.
#include <ATen/ATen.h>

namespace sere::eval {

// `num_classes` when given (> 0), else 1 + the largest label; every label must be a class index
// below it (an unlabelled image's -1, or a label past numClasses, fails naming the fix).
int64_t ClassCount(const at::Tensor& train_labels, const at::Tensor& test_labels, int64_t num_classes);

}  // namespace sere::eval
