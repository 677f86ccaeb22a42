// The objective as docs/method.md#objective writes it: one small computation per loss term. Slow on
// purpose; it is what the batched Compute must equal, and the benchmark's baseline.
#include "objective/relations.h"
#include "objective/sere_objective.h"
#include "runtime/precision.h"

namespace sere::objective {
namespace {

// Rows of view v in a view-major stack of `batch` images per view.
at::Tensor View(const at::Tensor& stacked, int64_t v, int64_t batch) { return stacked.narrow(0, v * batch, batch); }

// Column p of per-pair grids (rows, P, s, s, 2), for the rows of view v.
at::Tensor Grid(const at::Tensor& grids, int64_t v, int64_t p, int64_t batch) {
  return View(grids, v, batch).select(1, p);
}

}  // namespace

SereLosses SereObjective::ComputeTermByTerm(const SereInputs& in, TeacherTemps temps) const {
  NoAutocast fp32;
  auto [batch, locals] = Check(in);
  const auto& o = options_;
  auto device = in.teacher_cls.device();
  int64_t views = kGlobalViews + locals;
  auto student_logits = [&](const at::Tensor& s, double temp) { return AtLeastFloat32(s) / temp; };

  at::Tensor cls = at::zeros({}, at::kFloat).to(device);
  for (int64_t q = 0; q < kGlobalViews; ++q) {
    auto t = CentredTargets(View(in.teacher_cls, q, batch), centre_.to(device), temps.cls);
    for (int64_t v = 0; v < views; ++v)
      if (v != q) cls = cls + CrossEntropy(t, student_logits(View(in.student_cls, v, batch), o.student_temp)).mean();
  }
  cls = cls / static_cast<double>(kGlobalViews * (views - 1));

  at::Tensor mim = at::zeros({}, at::kFloat).to(device);
  for (int64_t v = 0; v < kGlobalViews; ++v) {
    auto t = CentredTargets(View(in.teacher_patch, v, batch), patch_centre_.to(device), temps.patch);
    auto ce = CrossEntropy(t, student_logits(View(in.student_patch, v, batch), o.student_temp));
    auto m = View(in.masks, v, batch).to(ce.scalar_type());
    mim = mim + ((ce * m).sum(-1) / m.sum(-1).clamp_min(1.0)).mean();
  }
  mim = mim / static_cast<double>(kGlobalViews);

  const SereGrids& g = in.grids;
  auto spatial_targets = [&](const at::Tensor& aligned) {
    return at::softmax(AtLeastFloat32(aligned.detach()) / o.spatial_teacher_temp, -1);
  };
  auto align_global = [&](const at::Tensor& raw, int64_t v) {
    return SampleRelation(View(raw, v, batch), View(g.global_query_axis, v, batch), View(g.global_key_axis, v, batch));
  };
  at::Tensor spatial = at::zeros({}, at::kFloat).to(device);
  for (int64_t q = 0; q < kGlobalViews; ++q) {
    auto t = spatial_targets(align_global(in.teacher_spatial.detach(), q));
    spatial = spatial + CrossEntropy(t, align_global(in.student_spatial, 1 - q)).mean();
    for (int64_t v = 0; v < locals; ++v) {
      auto global_side = Grid(g.global_to_local, q, v, batch), local_side = Grid(g.local_to_global, v, q, batch);
      auto teacher = SampleRelation(View(in.teacher_spatial.detach(), q, batch), global_side, global_side);
      auto student = SampleRelation(View(in.student_local_spatial, v, batch), local_side, local_side);
      spatial = spatial + CrossEntropy(spatial_targets(teacher), student).mean();
    }
  }
  spatial = spatial / static_cast<double>(kGlobalViews * (1 + locals));

  at::Tensor channel = at::zeros({}, at::kFloat).to(device);
  for (int64_t q = 0; q < kGlobalViews; ++q) {
    auto t = at::softmax(AtLeastFloat32(View(in.teacher_channel, q, batch).detach()) / o.channel_teacher_temp, -1);
    channel = channel + CrossEntropy(t, AtLeastFloat32(View(in.student_channel, 1 - q, batch))).mean();
    for (int64_t v = 0; v < locals; ++v)
      channel = channel + CrossEntropy(t, AtLeastFloat32(View(in.student_local_channel, v, batch))).mean();
  }
  channel = channel / static_cast<double>(kGlobalViews * (1 + locals));
  return Weighted(cls, mim, spatial, channel, in, temps);
}

}  // namespace sere::objective
