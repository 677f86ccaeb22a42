#pragma once
// What every checkpoint of the package stores, in torch.save's types: tensors by name, an
// AdamW optimiser's state in PyTorch's state_dict layout ({"state": {i: {step, exp_avg,
// exp_avg_sq}}, "param_groups": [{lr, weight_decay, params}]}), a generator's state.
#include <ATen/core/Dict.h>
#include <torch/torch.h>

#include "model/network.h"
#include "train/loss_scaler.h"

namespace sere::train {

// Detached CPU copies, by name.
c10::impl::GenericDict TensorDict(const model::NamedTensors& entries);

c10::impl::GenericDict OptimizerStateDict(torch::optim::AdamW& optimizer);

// `saved`: per parameter, in optimiser order, "{i}.exp_avg", "{i}.exp_avg_sq", "{i}.step"
// (src/train/checkpoint.ts reads them so). Parameters without entries start afresh.
void RestoreOptimizerState(torch::optim::AdamW& optimizer, const model::NamedTensors& saved);

// {"scale", "_growth_tracker"}, as PyTorch's GradScaler names them.
c10::impl::GenericDict LossScalerDict(const LossScaler& scaler);

// A CPU generator's state (uint8), and back; an undefined state leaves the generator alone.
at::Tensor GeneratorState(at::Generator& generator);
void SetGeneratorState(at::Generator& generator, const at::Tensor& state);

}  // namespace sere::train
