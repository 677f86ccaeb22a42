#pragma once
// One SERE training iteration, all on the native side (docs/method.md#forward-passes,
// docs/method.md#optimisation): teacher and student forwards, the objective, backward,
// per-parameter clipping, last-layer freezing, AdamW with the method's two parameter
// groups, the EMA teacher and the centre update. Schedule values come in per call. The
// update runs over flat buffers (train/flat_parameters.h) where it can.
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "distributed/communicator.h"
#include "distributed/gradient_averager.h"
#include "model/network.h"
#include "objective/sere_objective.h"
#include "train/flat_parameters.h"
#include "train/loss_scaler.h"

namespace sere::train {

struct StepConfig {
  model::NetworkConfig student;  // masked_im_modeling on, drop path as configured
  model::NetworkConfig teacher;  // the same architecture, no masked_embed, no drop path
  objective::SereObjectiveOptions objective;
  int64_t global_query_side = 13;           // overlap_size[0]
  int64_t global_key_side = 13;             // overlap_size[1]
  int64_t local_side = 0;                   // 0: sqrt of the local views' patch count
  double clip_grad = 3.0;                   // per-parameter gradient norm limit; 0 = off
  c10::ScalarType precision = c10::kFloat;  // autocast dtype: float32 (off), bfloat16, float16
  bool loss_scaling = false;                // the dynamic loss scale (float16's; the binding's default)
  int64_t accum_iter = 1;
  c10::Device device = c10::kCPU;
  // Initial weights come from `seed`; the student's stochastic depth draws from a generator
  // of the step's own, seeded with seed + rank (the reference seeds every rank alike; here each
  // rank drops its own paths). Neither touches LibTorch's process-wide generator.
  uint64_t seed = 0;
  // On the CPU with two or more intra-op threads, in one process (ranks' collectives need one
  // order): the teacher's forward beside the student's, one intra-op thread each
  // (runtime/threads.h's RunSideBySide); where the update cannot use flat buffers
  // (train/flat_parameters.h), each half of the per-parameter updates beside the other too.
  // For models whose ops are too small to split well over the threads; larger ones lose speed
  // and hold both forwards' activations at once.
  bool side_by_side = false;
  // Data parallelism (null: one process). Weights start as rank 0's, gradients are averaged,
  // the SERE heads' BatchNorm, the centres and the reported losses cover all ranks.
  std::shared_ptr<distributed::Communicator> communicator;
};

// One batch, views stacked view-major: [view 1 of every image; view 2; local 1; ...].
struct StepBatch {
  at::Tensor global_views;    // (2B, 3, S, S)
  at::Tensor local_views;     // (V_l B, 3, s, s); undefined when V_l = 0
  at::Tensor masks;           // (2B, n, n) bool: the student's masked patches
  at::Tensor global_records;  // (2B, 5) crop records (x, y, w, h, flipped), view-major
  at::Tensor local_records;   // (V_l B, 5); undefined when V_l = 0
};

// This iteration's schedule values (src/train/schedules.ts).
struct StepSchedule {
  double lr = 0;
  double weight_decay = 0;
  double momentum = 0.996;  // teacher EMA
  double teacher_temp = 0.04;
  double teacher_patch_temp = 0.04;
  bool freeze_last_layer = false;
  bool stop = false;  // this rank wants to stop after this step (reported to every rank)
  // Gradient accumulation rounds, as the reference counts them within each epoch: the first
  // iteration of a round drops what an unfinished round left; the last one updates the
  // student, the teacher and the centres. Unset: rounds of accum_iter iterations counted
  // from the step's first iteration. The caller passes the lr and weight decay of the
  // round's first iteration and the momentum of its last.
  std::optional<bool> starts_round, ends_round;
};

struct StepResult {
  double total = 0, ibot = 0, cls = 0, mim = 0, spatial = 0, channel = 0;
  // The teacher's CLS targets: mean entropy, and the CLS loss's KL part (cls - entropy).
  double cls_entropy = 0, cls_kl = 0;
  bool stepped = false;     // an optimiser step happened (end of an accumulation round)
  bool skipped = false;     // fp16: gradients overflowed, the step was skipped
  double loss_scale = 1.0;  // fp16 loss scale after this iteration
  bool stop = false;        // some rank asked to stop after this step
  // Wall-clock seconds of the step's phases on the host: forward (both networks, the objective and
  // the loss report), backward, and update (AdamW, EMA, centres; 0 within an accumulation round).
  // On CUDA the backward's and update's kernels may still run after their phase ends.
  double forward_seconds = 0, backward_seconds = 0, update_seconds = 0;
};

class SereStep {
 public:
  explicit SereStep(const StepConfig& config);

  StepResult Run(const StepBatch& batch, const StepSchedule& schedule);

  model::SereNetwork student{nullptr}, teacher{nullptr};
  objective::SereObjective objective;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  LossScaler scaler;
  const StepConfig& config() const { return config_; }
  // The student's stochastic depth generator (checkpointed with the step).
  at::Generator& drop_path_generator() { return drop_path_generator_; }
  // Iterations run so far (accumulation rounds count each iteration).
  int64_t iteration() const { return iteration_; }
  void set_iteration(int64_t iteration) { iteration_ = iteration; }
  // After the optimiser's state was replaced from outside (a checkpoint restore): the flat
  // layout, which holds the states, is laid again at the next update.
  void OptimizerStateReplaced() { flat_.reset(); }

 private:
  objective::SereLosses Forward(const StepBatch& batch, const StepSchedule& schedule, at::Tensor& teacher_cls,
                                at::Tensor& teacher_patch_mean);
  // Clips, unscales (loss scaling) and applies the optimiser; false when scaled gradients overflowed.
  bool ApplyGradients(const StepSchedule& schedule);
  void UpdateTeacher(double momentum);
  // The update's flat layout (train/flat_parameters.h), laid after the first backward and
  // whenever it was broken; null where the parameters cannot share buffers.
  void LayFlatParameters();
  // Clipping and AdamW one parameter at a time, the halves side by side (parameter_update.h).
  void UpdateEachParameter(const StepSchedule& schedule);
  void ZeroGradients();
  // first(); second(); or, with config.side_by_side on the CPU in one process, the two side by side.
  void InTurnOrSideBySide(const std::function<void()>& first, const std::function<void()>& second);
  // Data parallelism: rank 0's weights everywhere, synchronised BatchNorm, gradient averaging.
  void JoinRanks(distributed::Communicator& communicator);
  // The losses (and stop requests) of all ranks: means over ranks (sums for the flag).
  void ReduceReport(const objective::SereLosses& losses, StepResult& result, bool stop);

  StepConfig config_;
  std::vector<std::pair<at::Tensor, at::Tensor>> ema_pairs_;  // (teacher, student) of common names
  std::vector<at::Tensor> last_layer_params_;                 // dropped while freeze_last_layer
  std::unique_ptr<FlatParameters> flat_;
  std::unique_ptr<distributed::GradientAverager> gradient_averager_;  // data parallelism only
  at::Generator drop_path_generator_;
  int64_t iteration_ = 0;
};

// The two AdamW groups of trainable parameters (docs/method.md#adamw-parameter-groups), by
// name: every parameter with >= 2 dimensions and every bias is regularised (group 0); the
// other 1-D ones (norm weights) are not (group 1).
std::vector<model::NamedTensors> ParameterGroups(const model::SereNetwork& network);

}  // namespace sere::train
