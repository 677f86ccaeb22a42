#include "objective/losses.h"

#include "runtime/precision.h"

namespace sere::objective {
namespace {

at::Tensor Teacher(const at::Tensor& t) { return AtLeastFloat32(t.detach()); }

// Swaps the two global views of a view-major stack (2B, ...): row b of view q faces
// row b of the other view.
at::Tensor OtherGlobalView(const at::Tensor& stacked) {
  auto halves = stacked.chunk(kGlobalViews);
  return at::cat({halves[1], halves[0]});
}

}  // namespace

at::Tensor CrossEntropy(const at::Tensor& target, const at::Tensor& logits) {
  return -(target * at::log_softmax(logits, -1)).sum(-1);
}

at::Tensor CentredTargets(const at::Tensor& teacher, const at::Tensor& centre, double temp) {
  TORCH_CHECK(temp > 0, "teacher temperature must be > 0, got ", temp);
  auto t = Teacher(teacher);
  // (t - c) is a fresh tensor: divide it in place rather than allocate another.
  return at::softmax((t - centre.to(t.options())).div_(temp), -1);
}

at::Tensor MeanEntropy(const at::Tensor& probabilities) {
  auto p = AtLeastFloat32(probabilities.detach());
  // xlogy: 0 log 0 = 0, so one-hot rows give exactly 0.
  return -at::xlogy(p, p).sum(-1).mean();
}

at::Tensor MaskedPatchRows(const at::Tensor& masks) { return masks.reshape({-1}).to(at::kBool).nonzero().squeeze(1); }

at::Tensor IbotClsLoss(const at::Tensor& teacher_cls, const at::Tensor& student_cls, const at::Tensor& centre,
                       double teacher_temp, double student_temp) {
  NoAutocast fp32;
  int64_t batch = teacher_cls.size(0) / kGlobalViews, out_dim = teacher_cls.size(1);
  int64_t views = student_cls.size(0) / batch;
  auto targets = CentredTargets(teacher_cls, centre, teacher_temp).view({kGlobalViews, batch * out_dim});
  auto log_probs = at::log_softmax(AtLeastFloat32(student_cls) / student_temp, -1).view({views, batch * out_dim});
  // All (q, v) terms in one product: ce[q][v] = -sum_b,k t[q] log p[v] / B.
  auto ce = -at::matmul(targets.to(log_probs.scalar_type()), log_probs.t()) / static_cast<double>(batch);
  auto same_view = at::eye(kGlobalViews, views, ce.options().dtype(at::kBool));
  int64_t terms = kGlobalViews * (views - 1);
  return ce.masked_fill(same_view, 0).sum() / static_cast<double>(terms);
}

at::Tensor IbotPatchLoss(const at::Tensor& teacher_patch, const at::Tensor& student_patch, const at::Tensor& masks,
                         const at::Tensor& patch_centre, double teacher_temp, double student_temp) {
  int64_t images = masks.size(0), patches = masks.size(1), out_dim = teacher_patch.size(-1);
  // Only masked patches enter the loss: gather them first (when given whole), so that
  // the targets and log-probabilities are computed for those rows alone.
  auto masked = MaskedPatchRows(masks);
  auto masked_rows = [&](const at::Tensor& t, const char* name) {
    auto rows = t.dim() == 3 ? t.reshape({-1, out_dim}).index_select(0, masked) : t;
    TORCH_CHECK(rows.size(0) == masked.size(0), name, " holds ", rows.size(0), " rows, but the masks mark ",
                masked.size(0), " patches");
    return rows;
  };
  auto image_of = at::div(masked, patches, "floor");
  auto per_image = masks.to(at::kFloat).sum(-1).clamp_min(1.0);  // max(1, masked) per image
  auto targets = CentredTargets(masked_rows(teacher_patch, "teacher_patch"), patch_centre.reshape({-1}), teacher_temp);
  auto logits = AtLeastFloat32(masked_rows(student_patch, "student_patch")) / student_temp;
  auto ce = CrossEntropy(targets, logits);  // one per masked patch
  auto weight = per_image.index_select(0, image_of).to(ce.scalar_type()).reciprocal();
  // Per image: sum over its masked patches / max(1, masked); then the mean over all 2B
  // images, which is the mean of the two views' batch means.
  return (ce * weight).sum() / static_cast<double>(images);
}

at::Tensor SereSpatialLoss(const AlignedSpatial& teacher, const AlignedSpatial& student, double teacher_temp) {
  TORCH_CHECK(teacher_temp > 0, "spatial teacher temperature must be > 0, got ", teacher_temp);
  auto targets = [&](const at::Tensor& t) { return at::softmax(Teacher(t) / teacher_temp, -1); };
  // Both global-global terms have the same size: their mean is the mean of all rows.
  auto global = CrossEntropy(targets(teacher.global), OtherGlobalView(AtLeastFloat32(student.global))).mean();
  if (!teacher.local.defined() || teacher.local.numel() == 0) return global;
  int64_t local_terms = teacher.local.size(0) * teacher.local.size(1);
  auto local = CrossEntropy(targets(teacher.local), AtLeastFloat32(student.local)).mean();
  return (kGlobalViews * global + local_terms * local) / static_cast<double>(kGlobalViews + local_terms);
}

at::Tensor SereChannelLoss(const at::Tensor& teacher, const at::Tensor& student, const at::Tensor& student_local,
                           double teacher_temp) {
  TORCH_CHECK(teacher_temp > 0, "channel teacher temperature must be > 0, got ", teacher_temp);
  int64_t batch = teacher.size(0) / kGlobalViews, channels = teacher.size(1);
  int64_t locals = student_local.defined() ? student_local.size(0) / batch : 0;
  auto targets = at::softmax(Teacher(teacher) / teacher_temp, -1);  // (2B, D, D)
  auto log_probs = at::log_softmax(AtLeastFloat32(student), -1);
  // CE is linear in the student's log-probabilities: the terms of teacher view q sum to
  // CE(t_q, log p of the other view + sum over local views of log p).
  auto partners = OtherGlobalView(log_probs);
  if (locals > 0) {
    auto local_log_probs = at::log_softmax(AtLeastFloat32(student_local), -1);
    auto local_sum = local_log_probs.view({locals, batch, channels, channels}).sum(0);
    partners = partners + local_sum.repeat({kGlobalViews, 1, 1});
  }
  int64_t terms = kGlobalViews * (1 + locals);
  auto total = -(targets.to(partners.scalar_type()) * partners).sum();
  return total / static_cast<double>(batch * channels * terms);
}

}  // namespace sere::objective
