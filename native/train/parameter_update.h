#pragma once
// The optimiser's update one parameter at a time, so that the step can split its parameters
// over two threads (runtime/threads.h's RunSideBySide): the method's per-parameter gradient
// clipping, then LibTorch's AdamW step for that parameter (the ops of LibTorch 1.13's
// AdamW::step, in its order), on the optimiser's own state, which checkpoints save as before.
#include <torch/torch.h>

namespace sere::train {

// Gives every parameter with a gradient the AdamW state it lacks (zero moments, step 0), as
// AdamW::step does on first use. Not thread-safe: call it before the updates.
void EnsureAdamWState(torch::optim::AdamW& optimizer);

// Scales p's gradient to norm `clip` if it exceeds it (clip > 0), then applies AdamW's step to
// p with `options` (decoupled weight decay, bias-corrected moments). Safe beside another call
// for a different parameter.
void ClipAndStep(torch::optim::AdamW& optimizer, at::Tensor& p, const torch::optim::AdamWOptions& options, double clip);

}  // namespace sere::train
