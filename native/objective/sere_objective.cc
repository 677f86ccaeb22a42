#include "objective/sere_objective.h"

#include <initializer_list>
#include <string>

#include "objective/relations.h"
#include "runtime/precision.h"

namespace sere::objective {
namespace {

// Checks that `t` is defined with `dims` (-1: any size); names the input on failure.
void Expect(const at::Tensor& t, const char* name, std::initializer_list<int64_t> dims) {
  std::string wanted = "(";
  for (int64_t d : dims) wanted += (wanted.size() > 1 ? ", " : "") + (d < 0 ? std::string("*") : std::to_string(d));
  wanted += ")";
  TORCH_CHECK(t.defined(), name, " is missing: expected a tensor of shape ", wanted);
  bool ok = t.dim() == static_cast<int64_t>(dims.size());
  int64_t i = 0;
  for (int64_t d : dims) {
    ok = ok && (d < 0 || t.size(i) == d);
    ++i;
  }
  TORCH_CHECK(ok, name, " must have shape ", wanted, ", got ", t.sizes());
}

// (2B, Vl, H, T, T) rows (g, b) -> (2, Vl, B, H, T, T).
at::Tensor PairsFromGlobalRows(const at::Tensor& sampled, int64_t batch) {
  auto s = sampled.sizes();
  return sampled.view({kGlobalViews, batch, s[1], s[2], s[3], s[4]}).permute({0, 2, 1, 3, 4, 5});
}

// (Vl B, 2, H, T, T) rows (v, b) -> (2, Vl, B, H, T, T).
at::Tensor PairsFromLocalRows(const at::Tensor& sampled, int64_t batch) {
  auto s = sampled.sizes();
  return sampled.view({s[0] / batch, batch, s[1], s[2], s[3], s[4]}).permute({2, 0, 1, 3, 4, 5});
}

}  // namespace

SereObjective::SereObjective(SereObjectiveOptions options) : options_(options) {
  TORCH_CHECK(options_.out_dim >= 1, "out_dim must be >= 1, got ", options_.out_dim);
  TORCH_CHECK(options_.student_temp > 0, "student temperature must be > 0, got ", options_.student_temp);
  TORCH_CHECK(options_.centre_momentum >= 0 && options_.centre_momentum <= 1, "centre momentum must be in [0, 1], got ",
              options_.centre_momentum);
  centre_ = at::zeros({1, options_.out_dim}, at::kFloat);
  patch_centre_ = at::zeros({1, 1, options_.out_dim}, at::kFloat);
}

SereObjective::Sizes SereObjective::Check(const SereInputs& in) const {
  Expect(in.teacher_cls, "teacher_cls", {-1, options_.out_dim});
  int64_t rows = in.teacher_cls.size(0);
  TORCH_CHECK(rows > 0 && rows % kGlobalViews == 0, "teacher_cls must have 2B rows (two global views), got ", rows);
  int64_t b = rows / kGlobalViews, k = options_.out_dim;
  Expect(in.student_cls, "student_cls", {-1, k});
  TORCH_CHECK(in.student_cls.size(0) % b == 0 && in.student_cls.size(0) >= rows,
              "student_cls must have (2 + V_l) B = ", rows, " + V_l * ", b, " rows, got ", in.student_cls.size(0));
  int64_t locals = in.student_cls.size(0) / b - kGlobalViews;
  Expect(in.masks, "masks", {rows, -1});
  int64_t n = in.masks.size(1);
  // Patch outputs come whole, or as the masked patches alone (what the loss reads).
  for (auto [t, name] :
       {std::pair{&in.teacher_patch, "teacher_patch"}, std::pair{&in.student_patch, "student_patch"}}) {
    if (t->defined() && t->dim() == 2)
      Expect(*t, name, {-1, k});
    else
      Expect(*t, name, {rows, n, k});
  }
  Expect(in.teacher_channel, "teacher_channel", {rows, -1, -1});
  int64_t d = in.teacher_channel.size(1);
  Expect(in.teacher_channel, "teacher_channel", {rows, d, d});
  Expect(in.student_channel, "student_channel", {rows, d, d});
  // Without local views the local inputs may be left undefined.
  const bool local_inputs = locals > 0 || in.student_local_channel.defined();
  if (local_inputs) Expect(in.student_local_channel, "student_local_channel", {locals * b, d, d});
  Expect(in.teacher_spatial, "teacher_spatial", {rows, -1, n, n});
  int64_t h = in.teacher_spatial.size(1);
  Expect(in.student_spatial, "student_spatial", {rows, h, n, n});
  if (local_inputs) Expect(in.student_local_spatial, "student_local_spatial", {locals * b, h, -1, -1});
  const SereGrids& g = in.grids;
  Expect(g.global_query_axis, "grids.global_query_axis", {rows, -1, -1, 2});
  Expect(g.global_key_axis, "grids.global_key_axis", {rows, -1, -1, 2});
  Expect(g.global_to_local, "grids.global_to_local", {rows, locals, -1, -1, 2});
  Expect(g.local_to_global, "grids.local_to_global", {locals * b, kGlobalViews, -1, -1, 2});
  return {b, locals};
}

SereLosses SereObjective::Weighted(at::Tensor cls, at::Tensor mim, at::Tensor spatial, at::Tensor channel,
                                   const SereInputs& in, TeacherTemps temps) const {
  const auto& o = options_;
  auto ibot = o.lambda1 * cls + o.lambda2 * mim;
  auto total = ibot * ((4 - o.alpha - o.beta) / 2) + o.alpha * spatial + o.beta * channel;
  at::NoGradGuard diagnostics;
  auto entropy = MeanEntropy(CentredTargets(in.teacher_cls, centre_.to(in.teacher_cls.device()), temps.cls));
  return {total, ibot, cls, mim, spatial, channel, entropy};
}

SereLosses SereObjective::Compute(const SereInputs& in, TeacherTemps temps) const {
  NoAutocast fp32;
  auto [batch, locals] = Check(in);
  auto device = in.teacher_cls.device();
  auto cls = IbotClsLoss(in.teacher_cls, in.student_cls, centre_.to(device), temps.cls, options_.student_temp);
  auto mim = IbotPatchLoss(in.teacher_patch, in.student_patch, in.masks, patch_centre_.to(device), temps.patch,
                           options_.student_temp);

  const SereGrids& g = in.grids;
  AlignedSpatial teacher, student;
  {
    at::NoGradGuard teacher_is_constant;
    auto raw = in.teacher_spatial.detach();
    teacher.global = SampleRelation(raw, g.global_query_axis, g.global_key_axis);
    if (locals > 0) {
      auto& g2l = g.global_to_local;
      teacher.local = PairsFromGlobalRows(SampleRelationAtGrids(raw, g2l, g2l), batch);
    }
  }
  student.global = SampleRelation(in.student_spatial, g.global_query_axis, g.global_key_axis);
  if (locals > 0) {
    auto& l2g = g.local_to_global;
    student.local = PairsFromLocalRows(SampleRelationAtGrids(in.student_local_spatial, l2g, l2g), batch);
  }
  auto spatial = SereSpatialLoss(teacher, student, options_.spatial_teacher_temp);
  auto channel =
      SereChannelLoss(in.teacher_channel, in.student_channel, in.student_local_channel, options_.channel_teacher_temp);
  return Weighted(cls, mim, spatial, channel, in, temps);
}

void SereObjective::AccumulateCentreSums(const at::Tensor& teacher_cls, const at::Tensor& teacher_patch) {
  Expect(teacher_cls, "teacher_cls", {-1, options_.out_dim});
  const int64_t rows = teacher_cls.size(0);
  if (teacher_patch.defined() && teacher_patch.dim() == 2)
    Expect(teacher_patch, "teacher_patch (mean over patches)", {rows, options_.out_dim});
  else
    Expect(teacher_patch, "teacher_patch", {rows, -1, options_.out_dim});
  at::NoGradGuard no_grad;
  auto cls_sum = teacher_cls.detach().to(at::kFloat).sum(0, /*keepdim=*/true);  // (1, K)
  auto per_image =
      teacher_patch.dim() == 2 ? teacher_patch.detach().to(at::kFloat) : teacher_patch.detach().to(at::kFloat).mean(1);
  auto patch_sum = per_image.sum(0, /*keepdim=*/true).unsqueeze(0);  // (1, 1, K)
  cls_sum_ = cls_sum_.defined() ? cls_sum_ + cls_sum : cls_sum;
  patch_sum_ = patch_sum_.defined() ? patch_sum_ + patch_sum : patch_sum;
  summed_rows_ += rows;
}

void SereObjective::UpdateCentres(const MeanAcrossRanks& mean_across_ranks) {
  TORCH_CHECK(summed_rows_ > 0, "UpdateCentres: no teacher outputs were accumulated in this round");
  at::NoGradGuard no_grad;
  auto cls_mean = cls_sum_ / static_cast<double>(summed_rows_);
  auto patch_mean = patch_sum_ / static_cast<double>(summed_rows_);
  if (mean_across_ranks) {
    cls_mean = mean_across_ranks(cls_mean);
    patch_mean = mean_across_ranks(patch_mean);
  }
  double m = options_.centre_momentum;
  centre_ = centre_.to(cls_mean.device()) * m + cls_mean * (1 - m);
  patch_centre_ = patch_centre_.to(patch_mean.device()) * m + patch_mean * (1 - m);
  ClearCentreSums();
}

void SereObjective::ClearCentreSums() {
  cls_sum_ = at::Tensor();
  patch_sum_ = at::Tensor();
  summed_rows_ = 0;
}

void SereObjective::SetCentres(const at::Tensor& centre, const at::Tensor& patch_centre) {
  Expect(centre, "centre", {1, options_.out_dim});
  Expect(patch_centre, "patch_centre", {1, 1, options_.out_dim});
  centre_ = centre.detach().to(at::kFloat).clone();
  patch_centre_ = patch_centre.detach().to(at::kFloat).clone();
}

}  // namespace sere::objective
