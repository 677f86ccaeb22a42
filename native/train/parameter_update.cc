#include "train/parameter_update.h"

#include <cmath>
#include <memory>

namespace sere::train {

torch::optim::AdamWParamState& AdamWStateOf(torch::optim::AdamW& optimizer, const at::Tensor& p) {
  // AdamW's key for a parameter's state (what its state_dict and checkpoints use).
  auto& slot = optimizer.state()[StateKeyOf(p)];
  if (!slot) {
    auto s = std::make_unique<torch::optim::AdamWParamState>();
    s->step(0);
    s->exp_avg(torch::zeros_like(p, at::MemoryFormat::Preserve));
    s->exp_avg_sq(torch::zeros_like(p, at::MemoryFormat::Preserve));
    slot = std::move(s);
  }
  return static_cast<torch::optim::AdamWParamState&>(*slot);
}

void ClipAndStep(at::Tensor& p, torch::optim::AdamWParamState& state, const torch::optim::AdamWOptions& options,
                 double clip) {
  auto& grad = p.mutable_grad();
  // Per parameter (docs/method.md#per-parameter-gradient-clipping): a gradient whose norm exceeds
  // clip is scaled to norm clip (no host sync).
  if (clip > 0) grad.mul_((clip / (grad.norm() + 1e-6)).clamp_max(1.0));

  if (options.weight_decay() != 0) p.mul_(1 - options.lr() * options.weight_decay());
  state.step(state.step() + 1);
  const auto [beta1, beta2] = options.betas();
  const double bias_correction1 = 1 - std::pow(beta1, state.step());
  const double bias_correction2 = 1 - std::pow(beta2, state.step());
  state.exp_avg().mul_(beta1).add_(grad, 1 - beta1);
  state.exp_avg_sq().mul_(beta2).addcmul_(grad, grad, 1 - beta2);
  auto denom = (state.exp_avg_sq().sqrt() / std::sqrt(bias_correction2)).add_(options.eps());
  p.addcdiv_(state.exp_avg(), denom, -options.lr() / bias_correction1);
}

}  // namespace sere::train
