#pragma once
// The updates of the parameters after backward (docs/method.md#optimisation): AdamW, the
// method's per-parameter gradient clipping, and moving averages (the EMA teacher, the
// fine-tuned weights' average). On the CPU each float32 tensor is updated in one pass over
// its memory: done with ATen ops, AdamW::step alone spends a dozen on every parameter, half of
// all the ops of the default preset's step, each too small to be worth the threads it wakes.
// Elsewhere (CUDA, other dtypes) the same arithmetic runs as ATen ops.
#include <torch/torch.h>

#include <string>
#include <type_traits>

namespace sere::train {

// One AdamW step as torch::optim::AdamW::step takes it, with each group's lr and weight
// decay: parameters without a gradient are skipped, each keeps its own step count, and the
// state (exp_avg, exp_avg_sq, step) is the optimiser's, where checkpoints read it. With
// clip_each > 0, a gradient whose norm exceeds it is first scaled to norm clip_each, as the
// reference's clip_gradients does (the gradient itself is left as it is).
void AdamWStep(torch::optim::AdamW& optimizer, double clip_each = 0);

// Every parameter's gradient set to zero, as Optimizer::zero_grad (LibTorch 1.x) leaves them.
void ZeroGradients(torch::optim::AdamW& optimizer);

// average = decay * average + (1 - decay) * value.
void UpdateMovingAverage(at::Tensor& average, const at::Tensor& value, double decay);

// The optimiser's state map is keyed by a parameter's TensorImpl (as a string on
// LibTorch 1.x, as a pointer on 2.x).
template <class Map>
auto StateKey(const Map&, const at::Tensor& p) {
  using Key = typename Map::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    return c10::guts::to_string(p.unsafeGetTensorImpl());
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

}  // namespace sere::train
