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

void ClipGradientNorms(const std::vector<at::Tensor>& grads, double clip) {
  if (clip <= 0 || grads.empty()) return;
  // Per parameter (docs/method.md#per-parameter-gradient-clipping): a gradient whose norm exceeds
  // clip is scaled to norm clip (no host sync).
  auto scales = (clip / (at::stack(at::_foreach_norm(grads)) + 1e-6)).clamp_max(1.0);
  for (size_t k = 0; k < grads.size(); ++k) grads[k].mul_(scales[static_cast<int64_t>(k)]);
}

void AdamWStep(const at::Tensor& p, const at::Tensor& grad, const at::Tensor& exp_avg, const at::Tensor& exp_avg_sq,
               const torch::optim::AdamWOptions& options, int64_t step, at::Tensor denominator) {
  if (options.weight_decay() != 0) p.mul_(1 - options.lr() * options.weight_decay());
  const auto [beta1, beta2] = options.betas();
  const double bias_correction1 = 1 - std::pow(beta1, step);
  const double bias_correction2 = 1 - std::pow(beta2, step);
  exp_avg.mul_(beta1).add_(grad, 1 - beta1);
  exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
  auto denom = denominator.defined() ? at::sqrt_out(denominator, exp_avg_sq) : exp_avg_sq.sqrt();
  denom.div_(std::sqrt(bias_correction2)).add_(options.eps());
  p.addcdiv_(exp_avg, denom, -options.lr() / bias_correction1);
}

void ClipAndStep(at::Tensor& p, torch::optim::AdamWParamState& state, const torch::optim::AdamWOptions& options,
                 double clip) {
  ClipGradientNorms({p.grad()}, clip);
  state.step(state.step() + 1);
  AdamWStep(p, p.grad(), state.exp_avg(), state.exp_avg_sq(), options, state.step());
}

}  // namespace sere::train
