#include "distributed/gradient_averager.h"

#include <torch/csrc/distributed/c10d/reducer.hpp>

#include <unordered_map>

namespace sere::distributed {

GradientAverager::GradientAverager(const std::vector<std::pair<std::string, at::Tensor>>& parameters,
                                   Communicator& communicator) {
  std::vector<at::Tensor> params;
  std::unordered_map<size_t, std::string> names;
  for (const auto& [name, p] : parameters) {
    names.emplace(params.size(), name);
    params.push_back(p);
  }
  const std::vector<bool> dense(params.size(), false);
  // As DistributedDataParallel: buckets by size in parameter order, reduced in reverse
  // (the order backward produces gradients).
  auto [buckets, limits] = c10d::compute_bucket_assignment_by_size(
      params, {static_cast<size_t>(c10d::kDefaultFirstBucketBytes), static_cast<size_t>(c10d::kDefaultBucketBytesCap)},
      dense);
  std::reverse(buckets.begin(), buckets.end());
  std::reverse(limits.begin(), limits.end());
  // find_unused_parameters: some heads sit idle in some configurations (no local views).
  reducer_ = std::make_unique<c10d::Reducer>(params, buckets, limits, communicator.gradient_group(), dense,
                                             c10d::kDefaultBucketBytesCap, /*find_unused_parameters=*/true,
                                             /*gradient_as_bucket_view=*/false, names,
                                             c10d::kDefaultFirstBucketBytes);
}

GradientAverager::~GradientAverager() = default;

void GradientAverager::ExpectBackward(const at::Tensor& loss) {
  reducer_->prepare_for_forward();
  reducer_->prepare_for_backward({loss});
}

}  // namespace sere::distributed
