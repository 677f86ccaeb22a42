#pragma once
// Weighted k-NN classification of DINO's evaluation (docs/method.md#weighted-k-nn): cosine similarity of
// L2-normalised features, the k nearest training features vote with weight
// exp(similarity / T), classes ranked by their votes (ties: the lower class index first).
#include <ATen/ATen.h>

#include <vector>

namespace sere::eval {

struct KnnOptions {
  std::vector<int64_t> ks{20};
  double temperature = 0.07;
  int64_t num_classes = 0;   // 0: 1 + the largest label
  int64_t chunk_size = 256;  // test features compared at once (bounds memory)
};

struct KnnAccuracy {
  int64_t k;
  double top1;  // percent
  double top5;
};

// Features (N, D) on any device (test chunks follow the training features' device);
// labels (N) integer.
std::vector<KnnAccuracy> WeightedKnn(const at::Tensor& train_features, const at::Tensor& train_labels,
                                     const at::Tensor& test_features, const at::Tensor& test_labels,
                                     const KnnOptions& options);

}  // namespace sere::eval
