#include "train/finetune_step.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "augment/erasing.h"
#include "augment/rand_augment.h"
#include "model/names.h"
#include "runtime/precision.h"
#include "runtime/random.h"

namespace sere::train {

using model::StartsWith;

int64_t LayerOf(const std::string& name, int64_t depth) {
  if (name == "cls_token" || name == "pos_embed" || StartsWith(name, "patch_embed.")) return 0;
  if (StartsWith(name, "blocks.")) return std::stoll(name.substr(7)) + 1;
  return depth + 1;
}

bool IsDecayed(const std::string& name, const at::Tensor& parameter) {
  return !(parameter.dim() == 1 || model::IsBias(name) || name == "cls_token" || name == "pos_embed");
}

std::vector<LayerGroup> LayerGroups(const model::ClassifierImpl& classifier, double layer_decay) {
  const int64_t depth = classifier.config().backbone.depth;
  std::map<std::pair<int64_t, bool>, LayerGroup> by_key;  // (layer, not decayed): decayed first
  for (const auto& [name, t] : classifier.state()) {
    if (!t.requires_grad()) continue;  // buffers
    const int64_t layer = LayerOf(name, depth);
    const bool decayed = IsDecayed(name, t);
    auto& group = by_key[{layer, !decayed}];
    group.layer = layer;
    group.decayed = decayed;
    group.lr_scale = std::pow(layer_decay, static_cast<double>(depth + 1 - layer));
    group.names.push_back(name);
  }
  std::vector<LayerGroup> out;
  for (auto& [key, group] : by_key) out.push_back(std::move(group));
  return out;
}

FinetuneStep::FinetuneStep(const FinetuneConfig& config) : config_(config) {
  {
    SeededConstruction seeded(config.seed);
    classifier = model::Classifier(config.classifier);
    if (config.ema_decay > 0) ema = model::Classifier(config.classifier);
  }
  TORCH_CHECK(config.ema_decay >= 0 && config.ema_decay < 1, "the EMA decay must be in [0, 1), got ", config.ema_decay);
  if (ema) {
    ema->to(config.device);
    ema->eval();
    for (auto& p : ema->parameters()) p.set_requires_grad(false);
  }
  TORCH_CHECK(config.mean.size() == 3 && config.std.size() == 3,
              "the normalisation needs a mean and a std per channel");
  const auto channel = at::TensorOptions().dtype(at::kDouble);
  mean_ = at::tensor(config.mean, channel).to(config.device, at::kFloat).view({1, 3, 1, 1});
  std_ = at::tensor(config.std, channel).to(config.device, at::kFloat).view({1, 3, 1, 1});
  const int64_t rank = config.communicator ? config.communicator->rank() : 0;
  generator_ = OwnCpuGenerator(config.seed + static_cast<uint64_t>(rank));
  classifier->backbone->set_drop_path_generator(generator_);
  classifier->to(config.device);
  if (ema) {
    // Both networks list the same names in the same order.
    auto averages = ema->state(), weights = classifier->state();
    for (size_t i = 0; i < averages.size(); ++i) ema_pairs_.emplace_back(averages[i].second, weights[i].second);
  }

  groups_ = LayerGroups(*classifier, config.layer_decay);
  std::map<std::string, at::Tensor> by_name;
  for (const auto& [name, t] : classifier->state()) by_name.emplace(name, t);
  std::vector<torch::optim::OptimizerParamGroup> param_groups;
  for (const auto& group : groups_) {
    std::vector<at::Tensor> params;
    for (const auto& name : group.names) params.push_back(by_name.at(name));
    auto options = std::make_unique<torch::optim::AdamWOptions>(0.0);
    options->weight_decay(0.0);  // decayed groups follow the weight decay schedule, set every step
    param_groups.emplace_back(params, std::move(options));
  }
  optimizer = std::make_unique<torch::optim::AdamW>(param_groups, torch::optim::AdamWOptions(0.0));
  if (config.communicator) {
    std::vector<std::pair<std::string, at::Tensor>> trainable;
    for (const auto& p : classifier->named_parameters())
      if (p.value().requires_grad()) trainable.emplace_back(p.key(), p.value());
    gradient_averager_ = std::make_unique<distributed::GradientAverager>(trainable, *config.communicator);
  }
}

void FinetuneStep::JoinRanks() {
  if (!config_.communicator) return;
  std::vector<at::Tensor> state;
  for (auto& [name, t] : classifier->state()) state.push_back(t);
  {
    torch::NoGradGuard no_grad;
    config_.communicator->Broadcast(state, /*root=*/0);
  }
  // A convolutional stem's BatchNorm takes its statistics over all ranks, as in pre-training.
  auto shared = config_.communicator;
  classifier->backbone->SynchroniseBatchNorm([shared](at::Tensor& t) { shared->AllReduceSum(t); });
}

FinetuneStep::Result FinetuneStep::Run(const FinetuneBatch& batch, const FinetuneSchedule& schedule) {
  const auto& c = config_;
  classifier->train();
  auto images = batch.images.to(c.device, at::kFloat);
  if (batch.rand_augment_ops.defined())
    images = augment::RandAugment(images, batch.rand_augment_ops, batch.rand_augment_magnitudes);
  // Erasing fills with standard normal noise: it comes after the normalisation, as in timm.
  images = Normalise(images);
  if (batch.erase_boxes.defined()) augment::EraseBoxes(images, batch.erase_boxes, generator_);
  auto [mixed, targets] =
      augment::MixBatch(images, batch.labels.to(c.device), c.classifier.num_classes, c.label_smoothing, batch.mix);
  at::Tensor logits;
  {
    AutocastRegion autocast(c.device.type(), c.precision);
    logits = classifier->forward(mixed);
  }
  // timm's SoftTargetCrossEntropy, in fp32 whatever the forward's precision.
  auto loss = at::sum(-targets * at::log_softmax(logits.to(at::kFloat), -1), -1).mean();
  double value = loss.item<double>();
  bool stop = schedule.stop;
  if (c.communicator) {
    // Every rank sees the mean loss and every stop request, so all of them stop together.
    auto report = at::tensor({value, stop ? 1.0 : 0.0}, at::TensorOptions().dtype(at::kDouble)).to(c.device);
    c.communicator->MarkProgress(iteration_);
    c.communicator->AllReduceSum(report);
    report = report.cpu();
    value = report[0].item<double>() / static_cast<double>(c.communicator->world_size());
    stop = report[1].item<double>() > 0;
  }
  // float16's range is the usual culprit there; elsewhere the recipe is.
  TORCH_CHECK(std::isfinite(value), "the loss is not finite (", value, ") at iteration ", iteration_,
              ": fine-tuning stopped. Lower the learning rate or raise warmup",
              c.precision == c10::kHalf ? ", or use bfloat16 or float32 precision." : ".");
  optimizer->zero_grad();
  const bool scaled = c.precision == c10::kHalf;
  if (gradient_averager_) gradient_averager_->ExpectBackward();
  (scaled ? loss * scaler.scale : loss).backward();
  ++iteration_;
  if (scaled) {
    std::vector<at::Tensor> grads;
    for (auto& p : classifier->parameters())
      if (p.grad().defined()) grads.push_back(p.grad());
    if (!scaler.Unscale(grads)) {
      optimizer->zero_grad();
      return {value, false, stop};
    }
  }
  if (c.clip_grad > 0) torch::nn::utils::clip_grad_norm_(classifier->parameters(), c.clip_grad);
  auto& param_groups = optimizer->param_groups();
  for (size_t i = 0; i < param_groups.size(); ++i) {
    auto& options = static_cast<torch::optim::AdamWOptions&>(param_groups[i].options());
    options.lr(schedule.lr * groups_[i].lr_scale);
    options.weight_decay(groups_[i].decayed ? schedule.weight_decay : 0.0);
  }
  optimizer->step();
  optimizer->zero_grad();
  UpdateEma();
  return {value, true, stop};
}

void FinetuneStep::UpdateEma() {
  if (!ema) return;
  torch::NoGradGuard no_grad;
  const double decay = ema_started ? config_.ema_decay : 0.0;  // the first update copies
  for (auto& [average, weights] : ema_pairs_) {
    if (average.is_floating_point())
      average.mul_(decay).add_(weights.detach(), 1.0 - decay);
    else
      average.copy_(weights);
  }
  ema_started = true;
}

at::Tensor FinetuneStep::Normalise(const at::Tensor& pixels) const { return (pixels - mean_) / std_; }

at::Tensor FinetuneStep::Logits(const at::Tensor& images, bool use_ema) {
  TORCH_CHECK(!use_ema || ema, "this fine-tuning keeps no moving average of its weights (ema_decay is 0)");
  auto& network = use_ema ? ema : classifier;
  model::InferenceScope inference(*network);
  AutocastRegion autocast(config_.device.type(), config_.precision);
  return network->forward(Normalise(images.to(config_.device, at::kFloat))).to(at::kFloat);
}

}  // namespace sere::train
