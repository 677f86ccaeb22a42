#include "train/sere_step.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include "model/names.h"
#include "runtime/precision.h"
#include "runtime/random.h"
#include "runtime/threads.h"
#include "train/parameter_update.h"

namespace sere::train {

std::vector<model::NamedTensors> ParameterGroups(const model::SereNetwork& network) {
  model::NamedTensors regularised, not_regularised;
  for (const auto& p : network->named_parameters()) {
    if (!p.value().requires_grad()) continue;
    const std::string& name = p.key();
    (model::IsBias(name) || p.value().dim() >= 2 ? regularised : not_regularised).emplace_back(name, p.value());
  }
  return {regularised, not_regularised};
}

SereStep::SereStep(const StepConfig& config) : objective(config.objective), config_(config) {
  TORCH_CHECK(config.accum_iter >= 1, "accum_iter must be >= 1");
  {
    SeededConstruction seeded(config.seed);
    student = model::SereNetwork(config.student);
    teacher = model::SereNetwork(config.teacher);
  }
  const int64_t rank = config.communicator ? config.communicator->rank() : 0;
  drop_path_generator_ = OwnCpuGenerator(config.seed + static_cast<uint64_t>(rank));
  student->backbone->set_drop_path_generator(drop_path_generator_);
  student->to(config.device);
  teacher->to(config.device);

  // Teacher and student start from the same weights (buffers included); the teacher
  // gets no gradients and follows the student by EMA over the names both have.
  std::map<std::string, at::Tensor> student_state;
  for (const auto& [name, t] : student->state()) student_state.emplace(name, t);
  torch::NoGradGuard no_grad;
  for (const auto& [name, t] : teacher->state()) {
    auto it = student_state.find(name);
    if (it != student_state.end() && it->second.sizes() == t.sizes()) t.copy_(it->second);
  }
  std::map<std::string, at::Tensor> student_params;
  for (const auto& p : student->named_parameters()) student_params.emplace(p.key(), p.value());
  for (const auto& p : teacher->named_parameters()) {
    p.value().set_requires_grad(false);
    auto it = student_params.find(p.key());
    if (it != student_params.end()) ema_pairs_.emplace_back(p.value(), it->second);
  }
  for (const auto& p : student->named_parameters())
    if (p.key().find("last_layer") != std::string::npos) last_layer_params_.push_back(p.value());

  std::vector<torch::optim::OptimizerParamGroup> param_groups;
  for (const auto& group : ParameterGroups(student)) {
    std::vector<at::Tensor> params;
    for (const auto& [name, p] : group) params.push_back(p);
    auto options = std::make_unique<torch::optim::AdamWOptions>(0.0);
    options->weight_decay(0.0);  // group 0 follows the weight decay schedule, set every step
    param_groups.emplace_back(params, std::move(options));
  }
  optimizer = std::make_unique<torch::optim::AdamW>(param_groups, torch::optim::AdamWOptions(0.0));
  if (config.communicator) JoinRanks(*config.communicator);
}

void SereStep::JoinRanks(distributed::Communicator& communicator) {
  std::vector<at::Tensor> state;
  for (auto* network : {&student, &teacher})
    for (auto& [name, t] : (*network)->state()) state.push_back(t);
  {
    torch::NoGradGuard no_grad;
    communicator.Broadcast(state, /*root=*/0);
  }
  auto shared = config_.communicator;
  auto all_reduce = [shared](at::Tensor& t) { shared->AllReduceSum(t); };
  for (auto* network : {&student, &teacher}) (*network)->backbone->SynchroniseBatchNorm(all_reduce);
  std::vector<std::pair<std::string, at::Tensor>> trainable;
  for (const auto& p : student->named_parameters())
    if (p.value().requires_grad()) trainable.emplace_back(p.key(), p.value());
  gradient_averager_ = std::make_unique<distributed::GradientAverager>(trainable, communicator);
}

void SereStep::ReduceReport(const objective::SereLosses& losses, StepResult& result, bool stop) {
  auto values = at::stack({losses.total, losses.ibot, losses.cls, losses.mim, losses.spatial, losses.channel,
                           losses.cls_target_entropy})
                    .detach()
                    .to(at::kCPU, at::kDouble);
  if (config_.communicator) {
    auto& communicator = *config_.communicator;
    communicator.MarkProgress(iteration_);
    values = at::cat({values, at::full({1}, stop ? 1.0 : 0.0, values.options())}).to(config_.device);
    communicator.AllReduceSum(values);
    values = values.cpu() / static_cast<double>(communicator.world_size());
    stop = values[7].item<double>() > 0;
  }
  auto v = values.accessor<double, 1>();
  result.total = v[0];
  result.ibot = v[1];
  result.cls = v[2];
  result.mim = v[3];
  result.spatial = v[4];
  result.channel = v[5];
  result.cls_entropy = v[6];
  result.cls_kl = v[2] - v[6];
  result.stop = stop;
}

objective::SereLosses SereStep::Forward(const StepBatch& batch, const StepSchedule& schedule, at::Tensor& teacher_cls,
                                        at::Tensor& teacher_patch_mean) {
  const auto device_type = config_.device.type();
  auto global = batch.global_views.to(config_.device);
  const bool has_locals = batch.local_views.defined() && batch.local_views.numel() > 0;
  // The gradient averaging expects a gradient for every parameter, the local heads' included.
  TORCH_CHECK(has_locals || !config_.communicator || !config_.student.backbone.local_heads,
              "under data parallelism a network with local SERE heads needs local views in every batch");

  objective::SereInputs in;
  auto masks = batch.masks.to(config_.device, at::kBool);
  // The MIM loss reads the masked patches alone (docs/method.md#mim-loss); the patch centre, the teacher's
  // mean over all patches.
  auto masked = objective::MaskedPatchRows(masks);
  auto teacher_forward = [&] {
    torch::NoGradGuard no_grad;
    {
      AutocastRegion autocast(device_type, config_.precision);
      auto t = teacher->backbone->forward(global, std::nullopt, /*local=*/false, model::RelationsOf::kProjection);
      auto head = teacher->head->forward(t.tokens, masked, /*patch_mean=*/true);
      in.teacher_cls = head.cls;
      in.teacher_patch = head.patches;
      teacher_patch_mean = head.patch_mean;
      in.teacher_channel = t.channel.of_z;
      in.teacher_spatial = t.spatial.of_z;
    }
    // The overlap grids depend on the crops alone: built on this side, whose forward is the
    // shorter one (no autograd), rather than after both. Without local views there are no local
    // grids to build (their side does not matter).
    const int64_t local_side = !has_locals ? 0
                               : config_.local_side > 0
                                   ? config_.local_side
                                   : batch.local_views.size(-1) / config_.student.backbone.patch_size;
    // Records per image, (B, 2 + V_l, 5), from the view-major rows.
    const int64_t images = global.size(0) / 2;
    auto rows = has_locals ? at::cat({batch.global_records, batch.local_records}) : batch.global_records;
    auto records = rows.to(config_.device, at::kFloat).view({-1, images, 5}).transpose(0, 1).contiguous();
    in.grids = objective::BuildSereGrids(records, config_.global_query_side, config_.global_key_side, local_side);
  };
  auto student_forward = [&] {
    AutocastRegion autocast(device_type, config_.precision);
    auto s = student->backbone->forward(global, masks, /*local=*/false, model::RelationsOf::kPrediction);
    auto head = student->head->forward(s.tokens, masked);
    in.student_patch = head.patches;
    in.student_channel = s.channel.of_p;
    in.student_spatial = s.spatial.of_p;
    in.student_cls = head.cls;
    if (has_locals) {
      auto local = student->backbone->forward(batch.local_views.to(config_.device), std::nullopt, /*local=*/true,
                                              model::RelationsOf::kPrediction);
      // The local views need only the CLS output of the head (docs/method.md#ibot-head).
      in.student_cls = at::cat({head.cls, student->head->forward(local.tokens, /*with_patches=*/false).cls});
      in.student_local_channel = local.channel.of_p;
      in.student_local_spatial = local.spatial.of_p;
    }
  };
  // The two sides share only their inputs.
  InTurnOrSideBySide(teacher_forward, student_forward);
  in.masks = masks.flatten(1);
  teacher_cls = in.teacher_cls;
  return objective.Compute(in, {schedule.teacher_temp, schedule.teacher_patch_temp});
}

namespace {
using Clock = std::chrono::steady_clock;
double SecondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }
}  // namespace

void SereStep::LayFlatParameters() {
  std::map<const void*, at::Tensor> teacher_of;
  for (const auto& [t, s] : ema_pairs_) teacher_of.emplace(s.unsafeGetTensorImpl(), t);
  auto is_last_layer = [&](const at::Tensor& p) {
    return std::any_of(last_layer_params_.begin(), last_layer_params_.end(),
                       [&](const at::Tensor& q) { return q.is_same(p); });
  };
  std::vector<FlatParameters::Member> members;
  auto& groups = optimizer->param_groups();
  for (size_t i = 0; i < groups.size(); ++i)
    for (auto& p : groups[i].params()) {
      auto it = teacher_of.find(p.unsafeGetTensorImpl());
      members.push_back({p, it == teacher_of.end() ? at::Tensor() : it->second, i, is_last_layer(p)});
    }
  // The teacher's EMA runs over the layout: every pair must be in it.
  const auto paired = std::count_if(members.begin(), members.end(), [](const auto& m) { return m.teacher.defined(); });
  flat_ =
      static_cast<size_t>(paired) == ema_pairs_.size() ? FlatParameters::Lay(std::move(members), *optimizer) : nullptr;
}

void SereStep::ZeroGradients() {
  if (flat_) {
    flat_->gradients().zero_();
    return;
  }
  // Not Optimizer::zero_grad: its in-place detach refuses the slices of a layout that a restore
  // has just dropped (gradients never require grad, so there is nothing to detach).
  for (auto& p : student->parameters())
    if (p.grad().defined()) p.mutable_grad().zero_();
}

bool SereStep::ApplyGradients(const StepSchedule& schedule) {
  torch::NoGradGuard no_grad;
  auto& groups = optimizer->param_groups();
  for (size_t i = 0; i < groups.size(); ++i) {
    auto& options = static_cast<torch::optim::AdamWOptions&>(groups[i].options());
    options.lr(schedule.lr);
    if (i == 0) options.weight_decay(schedule.weight_decay);  // only group 0 is regularised
  }
  if (!flat_ || !flat_->Intact()) LayFlatParameters();
  if (config_.loss_scaling) {
    std::vector<at::Tensor> grads;
    if (flat_) {
      grads.push_back(flat_->gradients());
    } else {
      for (auto& p : student->parameters())
        if (p.grad().defined()) grads.push_back(p.grad());
    }
    if (!scaler.Unscale(grads)) {
      ZeroGradients();
      return false;
    }
  }
  if (flat_) {
    flat_->ClipGradients(config_.clip_grad);
    flat_->Step(*optimizer, schedule.freeze_last_layer);
  } else {
    UpdateEachParameter(schedule);
  }
  ZeroGradients();
  return true;
}

void SereStep::UpdateEachParameter(const StepSchedule& schedule) {
  if (schedule.freeze_last_layer)
    for (auto& p : last_layer_params_) p.mutable_grad().reset();

  struct Update {
    at::Tensor parameter;
    torch::optim::AdamWParamState* state;
    const torch::optim::AdamWOptions* options;
  };
  std::vector<Update> updates;  // every parameter with a gradient
  auto& groups = optimizer->param_groups();
  for (size_t i = 0; i < groups.size(); ++i) {
    auto& options = static_cast<torch::optim::AdamWOptions&>(groups[i].options());
    for (auto& p : groups[i].params())
      if (p.grad().defined()) updates.push_back({p, &AdamWStateOf(*optimizer, p), &options});
  }
  // Every other parameter: the two halves have about as many ops each.
  auto update_every_other = [&](size_t first) {
    for (size_t i = first; i < updates.size(); i += 2)
      ClipAndStep(updates[i].parameter, *updates[i].state, *updates[i].options, config_.clip_grad);
  };
  InTurnOrSideBySide([&] { update_every_other(0); }, [&] { update_every_other(1); });
}

void SereStep::UpdateTeacher(double momentum) {
  torch::NoGradGuard no_grad;
  if (flat_) {
    flat_->UpdateTeacher(momentum);
    return;
  }
  auto update_every_other = [&](size_t first) {
    for (size_t i = first; i < ema_pairs_.size(); i += 2) {
      auto& [t, s] = ema_pairs_[i];
      t.mul_(momentum).add_(s.detach(), 1.0 - momentum);
    }
  };
  InTurnOrSideBySide([&] { update_every_other(0); }, [&] { update_every_other(1); });
}

void SereStep::InTurnOrSideBySide(const std::function<void()>& first, const std::function<void()>& second) {
  // On a GPU one stream would run them in turn anyway. Under data parallelism both forwards
  // all-reduce BatchNorm statistics, and every rank must issue its collectives in one order.
  if (config_.side_by_side && config_.device.is_cpu() && !config_.communicator) {
    RunSideBySide(first, second);
  } else {
    first();
    second();
  }
}

StepResult SereStep::Run(const StepBatch& batch, const StepSchedule& schedule) {
  const int64_t accum = config_.accum_iter;
  const bool starts_round = schedule.starts_round.value_or(iteration_ % accum == 0);
  const bool ends_round = schedule.ends_round.value_or((iteration_ + 1) % accum == 0);
  if (starts_round) {
    // What an unfinished round left (the end of an epoch) is dropped, as the reference's
    // zero_grad at the start of every epoch does.
    ZeroGradients();
    objective.ClearCentreSums();
  }
  student->train();
  teacher->train();  // BatchNorm of the SERE heads uses batch statistics in both (docs/method.md#batchnorm-statistics)
  at::Tensor teacher_cls, teacher_patch_mean;
  auto phase_start = Clock::now();
  auto losses = Forward(batch, schedule, teacher_cls, teacher_patch_mean);

  StepResult result;
  // Under data parallelism every rank sees the mean loss, so all of them stop together.
  ReduceReport(losses, result, schedule.stop);
  result.forward_seconds = SecondsSince(phase_start);
  // float16's range is the usual culprit there; elsewhere the recipe is.
  TORCH_CHECK(std::isfinite(result.total), "the loss is not finite (", result.total, ") at iteration ", iteration_,
              ": training stopped. Lower the learning rate or raise warmup",
              config_.loss_scaling ? ", or use bfloat16 or float32 precision." : ".");

  const bool scaled = config_.loss_scaling;
  auto loss = losses.total / static_cast<double>(accum);
  if (gradient_averager_ && ends_round) gradient_averager_->ExpectBackward();
  phase_start = Clock::now();
  (scaled ? loss * scaler.scale : loss).backward();
  result.backward_seconds = SecondsSince(phase_start);
  // The centres follow the mean teacher output of the whole round (every micro-batch).
  objective.AccumulateCentreSums(teacher_cls, teacher_patch_mean);

  ++iteration_;
  if (ends_round) {
    phase_start = Clock::now();
    result.stepped = ApplyGradients(schedule);
    result.skipped = !result.stepped;
    // As the reference: the teacher follows the student even when an overflow skipped the update.
    UpdateTeacher(schedule.momentum);
    objective::SereObjective::MeanAcrossRanks mean_across_ranks;
    if (config_.communicator) {
      mean_across_ranks = [this](const at::Tensor& local) {
        auto total = local.contiguous().clone();
        config_.communicator->AllReduceSum(total);
        return total / static_cast<double>(config_.communicator->world_size());
      };
    }
    objective.UpdateCentres(mean_across_ranks);
    result.update_seconds = SecondsSince(phase_start);
  }
  result.loss_scale = scaled ? scaler.scale : 1.0;
  return result;
}

}  // namespace sere::train
