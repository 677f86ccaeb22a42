#pragma once
// The SERE objective of one training step (docs/method.md#objective): the iBOT loss,
// the SERE spatial and channel losses and their weighted total, with the two iBOT
// centres as state. The training step calls Compute, backpropagates `total`, then
// calls UpdateCentres with the same teacher outputs.
#include <ATen/ATen.h>

#include <functional>

#include "objective/grids.h"
#include "objective/losses.h"

namespace sere::objective {

// The defaults live in one place, src/objective/options.ts; a C++ caller sets every field
// (a field left at zero fails the constructor's checks or weighs its loss zero).
struct SereObjectiveOptions {
  int64_t out_dim = 0;              // K
  double student_temp = 0;          // iBOT student temperature (CLS and patches)
  double centre_momentum = 0;       // c <- m c + (1 - m) mean
  double spatial_teacher_temp = 0;  // temperature_pixel
  double channel_teacher_temp = 0;  // temperature_channel
  double lambda1 = 0, lambda2 = 0;  // iBOT = lambda1 CLS + lambda2 MIM
  double alpha = 0, beta = 0;       // total = iBOT (4 - a - b) / 2 + a spatial + b channel
};

// One step's network outputs. Views are stacked view-major along the batch: rows
// [view 1 images; view 2 images; local view 1 images; ...]. Any floating dtype.
struct SereInputs {
  // Teacher, global views (2B rows).
  at::Tensor teacher_cls;      // (2B, K)
  at::Tensor teacher_patch;    // (2B, N, K), or (M, K): the student's masked patches alone
  at::Tensor teacher_channel;  // (2B, D, D) relation of z
  at::Tensor teacher_spatial;  // (2B, H, N, N) relation of z, raw
  // Student.
  at::Tensor student_cls;            // ((2 + V_l) B, K): global views, then local views
  at::Tensor student_patch;          // (2B, N, K), or (M, K): the masked patches alone
  at::Tensor student_channel;        // (2B, D, D) relation of p
  at::Tensor student_spatial;        // (2B, H, N, N) relation of p, raw
  at::Tensor student_local_channel;  // (V_l B, D, D)
  at::Tensor student_local_spatial;  // (V_l B, H, N_l, N_l), raw
  at::Tensor masks;                  // (2B, N) bool or 0/1: the student's masked patches
  SereGrids grids;
};

// Teacher temperatures of this step (they follow a per-epoch schedule).
struct TeacherTemps {
  double cls = 0;    // tau_t
  double patch = 0;  // tau_p
};

// Scalar losses; `total` is differentiable w.r.t. the student's inputs. Diagnostics (not
// differentiable): cls_target_entropy, the mean entropy of the teacher's CLS targets; the CLS
// loss less it is the mean KL divergence of the student from them.
struct SereLosses {
  at::Tensor total, ibot, cls, mim, spatial, channel;
  at::Tensor cls_target_entropy;
};

class SereObjective {
 public:
  // Turns a local mean into the mean over all ranks (identity on one process).
  using MeanAcrossRanks = std::function<at::Tensor(const at::Tensor&)>;

  explicit SereObjective(SereObjectiveOptions options);

  // The losses with the many cross-view terms batched into a few large operations.
  SereLosses Compute(const SereInputs& in, TeacherTemps temps) const;
  // The same losses term by term, as docs/method.md#objective defines them (for checks and benchmarks).
  SereLosses ComputeTermByTerm(const SereInputs& in, TeacherTemps temps) const;

  // Adds one batch's teacher outputs to the sums of the current round (a round is the
  // micro-batches of one optimiser step under gradient accumulation, else one batch).
  // teacher_patch: (2B, N, K), or (2B, K) holding each image's mean over its patches.
  void AccumulateCentreSums(const at::Tensor& teacher_cls, const at::Tensor& teacher_patch);
  // c <- m c + (1 - m) mean of the round's teacher CLS outputs; c2 likewise with the mean
  // of each image's mean patch output (all patches). Then a new round starts.
  void UpdateCentres(const MeanAcrossRanks& mean_across_ranks = {});
  void ClearCentreSums();

  const at::Tensor& centre() const { return centre_; }              // (1, K) float32
  const at::Tensor& patch_centre() const { return patch_centre_; }  // (1, 1, K) float32
  void SetCentres(const at::Tensor& centre, const at::Tensor& patch_centre);
  const SereObjectiveOptions& options() const { return options_; }

 private:
  // Shapes and counts of a step's inputs, checked.
  struct Sizes {
    int64_t batch, locals;
  };
  Sizes Check(const SereInputs& in) const;
  // The weighted total of the four losses, with the diagnostics of the step's teacher targets.
  SereLosses Weighted(at::Tensor cls, at::Tensor mim, at::Tensor spatial, at::Tensor channel, const SereInputs& in,
                      TeacherTemps temps) const;

  SereObjectiveOptions options_;
  at::Tensor centre_, patch_centre_;
  // The current round's sums of teacher CLS outputs and of per-image mean patch outputs.
  at::Tensor cls_sum_, patch_sum_;
  int64_t summed_rows_ = 0;
};

}  // namespace sere::objective
