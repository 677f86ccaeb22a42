#pragma once
// The training state of a SereStep as a torch.save-compatible checkpoint: student,
// teacher, optimiser, iBOT centres, fp16 loss scale, the step's drop path generator, plus
// what the caller adds (epoch, configuration, data generator state, ...).
#include <ATen/core/Dict.h>
#include <ATen/core/ivalue.h>

#include <string>

#include "train/sere_step.h"

namespace sere::train {

// Writes the checkpoint atomically: a crash mid-write leaves the previous file intact.
void SaveCheckpoint(const std::string& path, SereStep& step, const c10::impl::GenericDict& extra);

// What a checkpoint restores (read from the file in TypeScript, handed in as tensors).
struct TrainingState {
  model::NamedTensors student, teacher;
  // Per trainable student parameter, in optimiser order: "{i}.exp_avg", "{i}.exp_avg_sq", "{i}.step".
  model::NamedTensors optimizer;
  at::Tensor centre, patch_centre;
  double loss_scale = 65536.0;
  int64_t good_steps = 0;
  int64_t iteration = 0;
  at::Tensor cpu_generator;  // uint8 state of the step's drop path generator (CPU); undefined: leave it
};

void RestoreTrainingState(SereStep& step, const TrainingState& state);

}  // namespace sere::train
