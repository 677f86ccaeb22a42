#pragma once
// The three losses of docs/method.md#objective, each over all its terms at once. Inputs may come
// in any floating dtype; the losses are computed in at least fp32. Teacher inputs are
// treated as constants (detached).
#include <ATen/ATen.h>

namespace sere::objective {

constexpr int64_t kGlobalViews = 2;

// CE(t, s): sum over the last axis of -t * log_softmax(s).
at::Tensor CrossEntropy(const at::Tensor& target, const at::Tensor& logits);

// Teacher targets softmax((t - centre) / temp).
at::Tensor CentredTargets(const at::Tensor& teacher, const at::Tensor& centre, double temp);

// Mean over rows of the entropy -sum p log p of probability rows (..., K): for the iBOT CLS
// targets, the part of the CLS loss that no student could remove (DINO's collapse monitor:
// CE(t, s) = H(t) + KL(t || s)). ln K for uniform targets, 0 for one-hot ones.
at::Tensor MeanEntropy(const at::Tensor& probabilities);

// iBOT CLS loss: teacher (2B, K) of the global views, student ((2 + V_l) B, K) of all
// views (global first), each stacked view-major. Mean over the pairs (q, v), v != q,
// of the batch-mean CE.
at::Tensor IbotClsLoss(const at::Tensor& teacher_cls, const at::Tensor& student_cls, const at::Tensor& centre,
                       double teacher_temp, double student_temp);

// The masked patches of masks (2B, N) bool or 0/1, as flat indices into the 2B x N
// patches, in row-major order.
at::Tensor MaskedPatchRows(const at::Tensor& masks);

// iBOT masked patch loss: teacher and student (2B, N, K), or either (M, K) holding only
// the M masked patches in MaskedPatchRows' order; masks (2B, N) bool or 0/1.
// Per image the CE summed over masked patches / max(1, masked); batch mean; view mean.
at::Tensor IbotPatchLoss(const at::Tensor& teacher_patch, const at::Tensor& student_patch, const at::Tensor& masks,
                         const at::Tensor& patch_centre, double teacher_temp, double student_temp);

// Spatial relations after alignment, as the SERE spatial loss compares them.
struct AlignedSpatial {
  at::Tensor global;  // (2B, H, T1, T2): view-1 rows then view-2 rows, row t the same place
  at::Tensor local;   // (2, V_l, B, H, T, T): pair (global g, local v); undefined when V_l = 0
};

// SERE spatial loss: teacher aligned / temp against the student's of the other
// global view (2 terms), and every local-global pair (2 V_l terms); mean of the terms.
at::Tensor SereSpatialLoss(const AlignedSpatial& teacher, const AlignedSpatial& student, double teacher_temp);

// SERE channel loss: teacher (2B, D, D) / temp against the student's relation of the
// other global view (2B, D, D) and of every local view (V_l B, D, D); each term the
// mean over batch and channels; mean of the 2 (1 + V_l) terms.
at::Tensor SereChannelLoss(const at::Tensor& teacher, const at::Tensor& student, const at::Tensor& student_local,
                           double teacher_temp);

}  // namespace sere::objective
