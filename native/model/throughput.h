#pragma once
// Timing of a network's training forward (and backward) for the benchmarks.
#include "model/network.h"

namespace sere::model {

struct ThroughputOptions {
  bool backward = false;
  c10::ScalarType precision = c10::kFloat;  // autocast dtype; float32 = off
  int warmup = 1;
  int iterations = 3;
};

// Seconds per iteration of: forward of all views through backbone, SERE heads and head
// (as a student sees global views), plus backward of a scalar made of all outputs.
double SecondsPerIteration(SereNetwork& network, const at::Tensor& images, const ThroughputOptions& options);

}  // namespace sere::model
