#include "distributed/gradient_averager.h"

#if SERE_DATA_PARALLEL
#include <torch/csrc/distributed/c10d/reducer.hpp>
#endif

#include <type_traits>
#include <unordered_map>

namespace c10d {
#if !SERE_DATA_PARALLEL
class Reducer {};  // never made: a Communicator cannot be built without data parallelism
#endif
}  // namespace c10d

namespace sere::distributed {

#if SERE_DATA_PARALLEL

namespace {

using BucketIndices = std::vector<std::vector<size_t>>;
using ParameterNames = std::unordered_map<size_t, std::string>;
using Group = c10::intrusive_ptr<c10d::ProcessGroup>;

// c10d's Reducer, whose constructor moves between LibTorch versions: up to 2.6 it takes each
// bucket's size limit; later ones add whether to skip unused parameters' all-reduce and the
// Python reducer; the newest drop the limits for a list of caps (empty: the Reducer's own rule).
// A template, so that only the form this LibTorch has is compiled.
template <class Reducer = c10d::Reducer>
std::unique_ptr<Reducer> NewReducer(std::vector<at::Tensor> params, BucketIndices buckets, std::vector<size_t> limits,
                                    Group group, std::vector<bool> dense, ParameterNames names) {
  const int64_t cap = c10d::kDefaultBucketBytesCap, first = c10d::kDefaultFirstBucketBytes;
  // Every parameter takes part in every step (the network has local heads only when there
  // are local views): no search for unused parameters, and gradients are not bucket views.
  const bool find_unused = false, as_bucket_view = false;
  if constexpr (std::is_constructible_v<Reducer, std::vector<at::Tensor>, BucketIndices, std::vector<size_t>, Group,
                                        std::vector<bool>, int64_t, bool, bool, ParameterNames, int64_t>) {
    return std::make_unique<Reducer>(params, buckets, limits, group, dense, cap, find_unused, as_bucket_view, names,
                                     first);
  } else if constexpr (std::is_constructible_v<Reducer, std::vector<at::Tensor>, BucketIndices, std::vector<size_t>,
                                               Group, std::vector<bool>, int64_t, bool, bool, ParameterNames, int64_t,
                                               bool, bool>) {
    return std::make_unique<Reducer>(params, buckets, limits, group, dense, cap, find_unused, as_bucket_view, names,
                                     first, /*skip_all_reduce_unused_params=*/false, /*use_python_reducer=*/false);
  } else {
    return std::make_unique<Reducer>(params, buckets, group, dense, cap, find_unused, as_bucket_view, names, first,
                                     /*skip_all_reduce_unused_params=*/false, /*use_python_reducer=*/false,
                                     /*bucket_bytes_cap_list=*/std::vector<int64_t>{});
  }
}

}  // namespace

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
  reducer_ = NewReducer(params, buckets, limits, communicator.gradient_group(), dense, names);
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
