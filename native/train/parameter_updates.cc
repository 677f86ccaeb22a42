#include "train/parameter_updates.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <functional>

namespace sere::train {
namespace {

// Elements per task, as ATen's elementwise ops split them.
constexpr int64_t kGrain = 1 << 15;

bool RawFloat32OnCpu(const at::Tensor& t) {
  return t.device().is_cpu() && t.scalar_type() == at::kFloat && t.is_contiguous();
}

// One parameter's AdamW arithmetic, in the order and precision of AdamW::step's ops.
struct AdamWCoefficients {
  double lr, weight_decay, beta1, beta2, eps;
  double bias_correction1, bias_correction2;
};

// The reference's clip_gradients factor: clip / (norm + 1e-6), at most 1.
double ClipFactor(const at::Tensor& grad, double clip) {
  const float* g = grad.data_ptr<float>();
  const double sum_of_squares = at::parallel_reduce(
      0, grad.numel(), kGrain, 0.0,
      [g](int64_t begin, int64_t end, double sum) {
        for (int64_t i = begin; i < end; ++i) sum += static_cast<double>(g[i]) * g[i];
        return sum;
      },
      std::plus<double>());
  return std::min(1.0, clip / (std::sqrt(sum_of_squares) + 1e-6));
}

// The whole update in one pass over the parameter's memory.
void UpdateInOnePass(at::Tensor& p, const at::Tensor& grad, at::Tensor& exp_avg, at::Tensor& exp_avg_sq,
                     const AdamWCoefficients& k, double clip_each) {
  const float scale = static_cast<float>(clip_each > 0 ? ClipFactor(grad, clip_each) : 1.0);
  const bool decays = k.weight_decay != 0;
  const float decay = static_cast<float>(1 - k.lr * k.weight_decay);
  const float beta1 = static_cast<float>(k.beta1), rest1 = static_cast<float>(1 - k.beta1);
  const float beta2 = static_cast<float>(k.beta2), rest2 = static_cast<float>(1 - k.beta2);
  const float root_correction2 = static_cast<float>(std::sqrt(k.bias_correction2));
  const float eps = static_cast<float>(k.eps);
  const float step = static_cast<float>(-k.lr / k.bias_correction1);
  const float* g = grad.data_ptr<float>();
  float* w = p.data_ptr<float>();
  float* m = exp_avg.data_ptr<float>();
  float* v = exp_avg_sq.data_ptr<float>();
  at::parallel_for(0, p.numel(), kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float gi = g[i] * scale;
      const float wi = decays ? w[i] * decay : w[i];
      const float mi = m[i] * beta1 + rest1 * gi;
      const float vi = v[i] * beta2 + rest2 * gi * gi;
      const float denom = std::sqrt(vi) / root_correction2 + eps;
      m[i] = mi;
      v[i] = vi;
      w[i] = wi + step * mi / denom;
    }
  });
}

// The same with ATen ops (CUDA, other dtypes): AdamW::step's own sequence.
void UpdateWithOps(at::Tensor& p, at::Tensor grad, at::Tensor& exp_avg, at::Tensor& exp_avg_sq,
                   const AdamWCoefficients& k, double clip_each) {
  if (clip_each > 0) grad = grad * (clip_each / (grad.norm() + 1e-6)).clamp_max(1.0);  // no host sync
  if (k.weight_decay != 0) p.mul_(1 - k.lr * k.weight_decay);
  exp_avg.mul_(k.beta1).add_(grad, 1 - k.beta1);
  exp_avg_sq.mul_(k.beta2).addcmul_(grad, grad, 1 - k.beta2);
  auto denom = (exp_avg_sq.sqrt() / std::sqrt(k.bias_correction2)).add_(k.eps);
  p.addcdiv_(exp_avg, denom, -k.lr / k.bias_correction1);
}

// The parameter's state, created as AdamW::step creates it.
torch::optim::AdamWParamState& StateOf(torch::optim::AdamW& optimizer, const at::Tensor& p) {
  auto& map = optimizer.state();
  const auto key = StateKey(map, p);
  auto it = map.find(key);
  if (it == map.end()) {
    auto fresh = std::make_unique<torch::optim::AdamWParamState>();
    fresh->step(0);
    fresh->exp_avg(torch::zeros_like(p, at::MemoryFormat::Preserve));
    fresh->exp_avg_sq(torch::zeros_like(p, at::MemoryFormat::Preserve));
    it = map.emplace(key, std::move(fresh)).first;
  }
  return static_cast<torch::optim::AdamWParamState&>(*it->second);
}

}  // namespace

void AdamWStep(torch::optim::AdamW& optimizer, double clip_each) {
  torch::NoGradGuard no_grad;
  for (auto& group : optimizer.param_groups()) {
    const auto& options = static_cast<const torch::optim::AdamWOptions&>(group.options());
    TORCH_CHECK(!options.amsgrad(), "AdamWStep: amsgrad is not supported");
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      auto& state = StateOf(optimizer, p);
      state.step(state.step() + 1);
      const auto [beta1, beta2] = options.betas();
      const auto step = static_cast<double>(state.step());
      const AdamWCoefficients k{options.lr(),
                                options.weight_decay(),
                                beta1,
                                beta2,
                                options.eps(),
                                1 - std::pow(beta1, step),
                                1 - std::pow(beta2, step)};
      auto& exp_avg = state.exp_avg();
      auto& exp_avg_sq = state.exp_avg_sq();
      const auto& grad = p.grad();
      if (RawFloat32OnCpu(p) && RawFloat32OnCpu(grad) && RawFloat32OnCpu(exp_avg) && RawFloat32OnCpu(exp_avg_sq))
        UpdateInOnePass(p, grad, exp_avg, exp_avg_sq, k, clip_each);
      else
        UpdateWithOps(p, grad, exp_avg, exp_avg_sq, k, clip_each);
    }
  }
}

void ZeroGradients(torch::optim::AdamW& optimizer) {
  for (auto& group : optimizer.param_groups())
    for (auto& p : group.params()) {
      auto& grad = p.mutable_grad();
      if (!grad.defined()) continue;
      if (RawFloat32OnCpu(grad) && !grad.requires_grad())
        std::fill_n(grad.data_ptr<float>(), grad.numel(), 0.0f);
      else
        grad.detach_().zero_();
    }
}

void UpdateMovingAverage(at::Tensor& average, const at::Tensor& value, double decay) {
  torch::NoGradGuard no_grad;
  if (!(RawFloat32OnCpu(average) && RawFloat32OnCpu(value))) {
    average.mul_(decay).add_(value.detach(), 1.0 - decay);
    return;
  }
  const float keep = static_cast<float>(decay), take = static_cast<float>(1.0 - decay);
  float* a = average.data_ptr<float>();
  const float* x = value.data_ptr<float>();
  at::parallel_for(0, average.numel(), kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) a[i] = a[i] * keep + take * x[i];
  });
}

}  // namespace sere::train
