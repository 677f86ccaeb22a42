#pragma once
// Linear probe on frozen features (DINO's protocol, on precomputed features): a linear
// classifier trained with SGD (momentum 0.9) and a cosine learning-rate schedule, one run
// per learning rate of the sweep; top-1/top-5 on the test features. Training features may
// hold several augmented views of each image, (V, N, D): epoch e trains on view e mod V.
#include <ATen/ATen.h>

#include <functional>
#include <stdexcept>
#include <vector>

namespace sere::eval {

struct LinearProbeOptions {
  std::vector<double> lrs{0.001, 0.01, 0.1};
  int64_t epochs = 100;
  int64_t batch_size = 256;
  double momentum = 0.9;
  double weight_decay = 0.0;
  int64_t num_classes = 0;  // 0: 1 + the largest label
  uint64_t seed = 0;
  // Called after every optimiser step with the epochs finished so far (over the whole
  // sweep, lrs.size() * epochs in all); returning false stops the probe with ProbeStopped.
  std::function<bool(int64_t epochs_done)> keep_going;
};

// The probe was stopped by keep_going.
struct ProbeStopped : std::runtime_error {
  ProbeStopped() : std::runtime_error("linear probe: stopped") {}
};

struct LinearProbeResult {
  double lr;
  double top1;  // percent
  double top5;
};

std::vector<LinearProbeResult> LinearProbe(const at::Tensor& train_features, const at::Tensor& train_labels,
                                           const at::Tensor& test_features, const at::Tensor& test_labels,
                                           const LinearProbeOptions& options);

}  // namespace sere::eval
