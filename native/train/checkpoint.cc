#include "train/checkpoint.h"

#include "model/pth.h"
#include "runtime/files.h"
#include "train/checkpoint_parts.h"

namespace sere::train {

void SaveCheckpoint(const std::string& path, SereStep& step, const c10::impl::GenericDict& extra) {
  c10::impl::GenericDict out(c10::StringType::get(), c10::AnyType::get());
  out.insert("student", TensorDict(step.student->state()));
  out.insert("teacher", TensorDict(step.teacher->state()));

  out.insert("optimizer", OptimizerStateDict(*step.optimizer));

  c10::impl::GenericDict centres(c10::StringType::get(), c10::TensorType::get());
  centres.insert("center", step.objective.centre().to(at::kCPU));
  centres.insert("center2", step.objective.patch_centre().to(at::kCPU));
  out.insert("ibot_loss", centres);

  out.insert("fp16_scaler", LossScalerDict(step.scaler));
  out.insert("iteration", step.iteration());
  out.insert("cpu_generator", GeneratorState(step.drop_path_generator()));
  for (const auto& item : extra) out.insert(item.key(), item.value());
  WriteFileAtomically(path, model::TorchSaveBytes(out));
}

void RestoreTrainingState(SereStep& step, const TrainingState& state) {
  step.student->load_state(state.student);
  step.teacher->load_state(state.teacher);

  RestoreOptimizerState(*step.optimizer, state.optimizer);
  step.OptimizerStateReplaced();
  step.objective.SetCentres(state.centre, state.patch_centre);
  step.scaler.scale = state.loss_scale;
  step.scaler.good_steps = state.good_steps;
  step.set_iteration(state.iteration);
  SetGeneratorState(step.drop_path_generator(), state.cpu_generator);
}

void SaveFinetuneCheckpoint(const std::string& path, FinetuneStep& step, const c10::impl::GenericDict& extra) {
  c10::impl::GenericDict out(c10::StringType::get(), c10::AnyType::get());
  out.insert("model", TensorDict(step.classifier->state()));
  if (step.ema && step.ema_started) out.insert("model_ema", TensorDict(step.ema->state()));
  out.insert("optimizer", OptimizerStateDict(*step.optimizer));
  out.insert("fp16_scaler", LossScalerDict(step.scaler));
  out.insert("iteration", step.iteration());
  out.insert("cpu_generator", GeneratorState(step.generator()));
  for (const auto& item : extra) out.insert(item.key(), item.value());
  WriteFileAtomically(path, model::TorchSaveBytes(out));
}

void RestoreFinetuneState(FinetuneStep& step, const FinetuneState& state) {
  step.classifier->load_state(state.model);
  if (step.ema && !state.model_ema.empty()) {
    step.ema->load_state(state.model_ema);
    step.ema_started = true;
  }
  RestoreOptimizerState(*step.optimizer, state.optimizer);
  step.scaler.scale = state.loss_scale;
  step.scaler.good_steps = state.good_steps;
  step.set_iteration(state.iteration);
  SetGeneratorState(step.generator(), state.cpu_generator);
}

}  // namespace sere::train
