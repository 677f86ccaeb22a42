#pragma once
// BatchNorm whose statistics cover every rank's batch (PyTorch's SyncBatchNorm), as the
// reference uses for the SERE heads under data parallelism
// (docs/method.md#batchnorm-statistics). The model knows nothing of process groups: it is
// handed a function that sums a tensor over the ranks.
#include <torch/torch.h>

#include <functional>

namespace sere::model {

// Sums `tensor` in place over all ranks.
using AllReduceSum = std::function<void(at::Tensor& tensor)>;

// In training mode with `all_reduce` set: normalises x (B, C, H, W) with the mean and
// biased variance over all ranks' B*H*W positions, updates the running statistics as
// BatchNorm does, and back-propagates through the shared statistics. Otherwise: bn(x).
at::Tensor NormaliseBatch(torch::nn::BatchNorm2dImpl& bn, const at::Tensor& x, const AllReduceSum* all_reduce);

}  // namespace sere::model
