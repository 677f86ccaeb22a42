#include "distributed/gradient_averager.h"

#if SERE_DATA_PARALLEL
#include <torch/csrc/distributed/c10d/reducer.hpp>
#endif

#include <unordered_map>

namespace c10d {
#if !SERE_DATA_PARALLEL
class Reducer {};  // never made: a Communicator cannot be built without data parallelism
#endif
}  // namespace c10d

namespace sere::distributed {

#if SERE_DATA_PARALLEL

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
  // Every parameter takes part in every step (the network has local heads only when there
  // are local views), so no search for unused ones.
  reducer_ = std::make_unique<c10d::Reducer>(params, buckets, limits, communicator.gradient_group(), dense,
                                             c10d::kDefaultBucketBytesCap, /*find_unused_parameters=*/false,
                                             /*gradient_as_bucket_view=*/false, names, c10d::kDefaultFirstBucketBytes);
}

GradientAverager::~GradientAverager() = default;

void GradientAverager::ExpectBackward() {
  // After the first round the buckets follow the order in which gradients arrived (once,
  // agreed with rank 0), as DistributedDataParallel does at the start of a forward.
  reducer_->rebuild_buckets();
  reducer_->prepare_for_forward();
  reducer_->prepare_for_backward({});
}

#else
GradientAverager::GradientAverager(const std::vector<std::pair<std::string, at::Tensor>>&, Communicator&) {}
GradientAverager::~GradientAverager() = default;
void GradientAverager::ExpectBackward() {}
#endif

}  // namespace sere::distributed
