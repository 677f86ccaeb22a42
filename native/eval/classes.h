#pragma once
// What an evaluation scores, checked: its classes (how many, from the labels of both splits)
// and its features.
#include <ATen/ATen.h>

namespace sere::eval {

// Refuses features that would give an accuracy that measures nothing: a split with no rows, or
// rows holding NaN or infinite values (a diverged network). Rows run along all but the last
// dimension; `evaluation` and `split` name them in the message ("k-NN", "training").
void RequireUsableFeatures(const at::Tensor& features, const char* evaluation, const char* split);

// `num_classes` when given (> 0), else 1 + the largest label; every label must be a class index
// below it (an unlabelled image's -1, or a label past numClasses, fails naming the fix).
int64_t ClassCount(const at::Tensor& train_labels, const at::Tensor& test_labels, int64_t num_classes);

}  // namespace sere::eval
