#pragma once
// Averages the student's gradients over the ranks with c10d's Reducer, the engine under
// PyTorch's DistributedDataParallel: parameters grouped into buckets (1 MiB first, then
// 25 MiB, in backward order), each bucket all-reduced as soon as backward has filled it,
// so communication overlaps the rest of backward.
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "distributed/communicator.h"

namespace c10d {
class Reducer;
}

namespace sere::distributed {

class GradientAverager {
 public:
  GradientAverager(const std::vector<std::pair<std::string, at::Tensor>>& parameters, Communicator& communicator);
  ~GradientAverager();
  // Call before the backward whose gradients are to be averaged (the last of an
  // accumulation round); when backward returns, every .grad holds the mean over ranks.
  void ExpectBackward();

 private:
  std::unique_ptr<c10d::Reducer> reducer_;
};

}  // namespace sere::distributed
