#include "model/sync_batch_norm.h"

namespace sere::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// y = sum over ranks of x; its adjoint is the same sum over the ranks' gradients.
class AllReduceSumFunction : public torch::autograd::Function<AllReduceSumFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& local, const AllReduceSum* all_reduce) {
    // The function outlives the graph (the head owns it), so its address is safe to keep.
    ctx->saved_data["all_reduce"] = reinterpret_cast<int64_t>(all_reduce);
    auto total = local.clone();
    (*all_reduce)(total);
    return total;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto* all_reduce = reinterpret_cast<const AllReduceSum*>(ctx->saved_data["all_reduce"].toInt());
    auto total = grads[0].contiguous().clone();
    (*all_reduce)(total);
    return {total, at::Tensor()};
  }
};

}  // namespace

at::Tensor NormaliseBatch(torch::nn::BatchNorm2dImpl& bn, const at::Tensor& x, const AllReduceSum* all_reduce) {
  if (!all_reduce || !bn.is_training()) return bn.forward(x);
  TORCH_CHECK(x.dim() == 4, "SyncBatchNorm expects (B, C, H, W), got ", x.sizes());
  const int64_t channels = x.size(1);
  // Statistics in float64: sums over many positions and ranks keep their precision.
  auto xd = x.to(at::kDouble);
  auto count = at::full({1}, static_cast<double>(x.numel() / channels), xd.options());
  auto sums = AllReduceSumFunction::apply(at::cat({xd.sum({0, 2, 3}), count}), all_reduce);
  const auto n = sums[channels].item<double>();
  auto mean = sums.slice(0, 0, channels) / n;
  auto centred = xd - mean.view({1, channels, 1, 1});
  auto var = AllReduceSumFunction::apply(centred.pow(2).sum({0, 2, 3}), all_reduce) / n;
  auto y = centred * (var + bn.options.eps()).rsqrt().view({1, channels, 1, 1});
  if (bn.options.affine()) y = y * bn.weight.view({1, channels, 1, 1}) + bn.bias.view({1, channels, 1, 1});

  if (bn.options.track_running_stats()) {
    torch::NoGradGuard no_grad;
    const double m = bn.options.momentum().value_or(0.1);
    bn.running_mean.mul_(1 - m).add_(mean.to(bn.running_mean.scalar_type()), m);
    bn.running_var.mul_(1 - m).add_((var * (n / std::max(1.0, n - 1))).to(bn.running_var.scalar_type()), m);
    bn.num_batches_tracked.add_(1);
  }
  return y.to(x.scalar_type());
}

}  // namespace sere::model
