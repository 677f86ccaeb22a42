#pragma once
// The optimiser's update one parameter at a time: the method's per-parameter gradient
// clipping, then LibTorch's AdamW step for that parameter (the ops of LibTorch 1.13's
// AdamW::step, in its order), on the optimiser's own state, which checkpoints save as before.
// train/flat_parameters.h runs the same arithmetic over whole buffers; this is the update where
// the parameters cannot share them, split over two threads (runtime/threads.h's RunSideBySide).
#include <torch/torch.h>

#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace sere::train {

// The key of a parameter's state in an optimiser's state map: its TensorImpl's address, as
// text on LibTorch 1.x (c10::guts::to_string's form, gone in 2.x) and as the pointer from 2.x.
using OptimizerStateKey =
    typename std::remove_reference_t<decltype(std::declval<torch::optim::Optimizer&>().state())>::key_type;

template <class Key = OptimizerStateKey>
Key StateKeyOf(const at::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream text;
    text << p.unsafeGetTensorImpl();
    return text.str();
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

// p's AdamW state in `optimizer`, created as AdamW::step does on first use (zero moments, step
// 0). Not thread-safe: take every parameter's before the updates.
torch::optim::AdamWParamState& AdamWStateOf(torch::optim::AdamW& optimizer, const at::Tensor& p);

// Per parameter (docs/method.md#per-parameter-gradient-clipping): scales each gradient whose
// norm exceeds `clip` to norm clip (clip > 0), without a host sync.
void ClipGradientNorms(const std::vector<at::Tensor>& grads, double clip);

// AdamW's step (decoupled weight decay, bias-corrected moments; the ops of LibTorch 1.13's
// AdamW::step, in its order) on p with its gradient and moments at step `step` (counted already).
// `denominator`: a buffer of p's size for sqrt(v), or undefined for a new one.
void AdamWStep(const at::Tensor& p, const at::Tensor& grad, const at::Tensor& exp_avg, const at::Tensor& exp_avg_sq,
               const torch::optim::AdamWOptions& options, int64_t step, at::Tensor denominator = {});

// Clips p's gradient, then applies AdamW's step to p with `options` and its `state`. Safe beside
// another call for a different parameter.
void ClipAndStep(at::Tensor& p, torch::optim::AdamWParamState& state, const torch::optim::AdamWOptions& options,
                 double clip);

}  // namespace sere::train
