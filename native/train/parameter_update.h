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

// Scales p's gradient to norm `clip` if it exceeds it (clip > 0), then applies AdamW's step to
// p with `options` and its `state` (decoupled weight decay, bias-corrected moments). Safe beside
// another call for a different parameter.
void ClipAndStep(at::Tensor& p, torch::optim::AdamWParamState& state, const torch::optim::AdamWOptions& options,
                 double clip);

}  // namespace sere::train
