#pragma once
// The training state of a SereStep as a torch.save-compatible checkpoint: student,
// teacher, optimiser, iBOT centres, fp16 loss scale, the step's drop path generator, plus
// what the caller adds (epoch, configuration, data generator state, ...). The same for a
// FinetuneStep: classifier, optimiser, generator.
#include <ATen/core/Dict.h>
#include <ATen/core/ivalue.h>

#include <string>

#include "train/finetune_step.h"
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

// A fine-tuning checkpoint, laid out as BEiT's and iBOT's: {"model": the classifier's
// flat state, "model_ema" (with a moving average), "optimizer", "fp16_scaler", "iteration",
// "cpu_generator", ...extra}.
void SaveFinetuneCheckpoint(const std::string& path, FinetuneStep& step, const c10::impl::GenericDict& extra);

struct FinetuneState {
  model::NamedTensors model;
  model::NamedTensors model_ema;  // empty: the average (if kept) starts afresh
  model::NamedTensors optimizer;  // as TrainingState::optimizer
  double loss_scale = 65536.0;
  int64_t good_steps = 0;
  int64_t iteration = 0;
  at::Tensor cpu_generator;
};

void RestoreFinetuneState(FinetuneStep& step, const FinetuneState& state);

}  // namespace sere::train
