#include "model/classifier.h"

namespace sere::model {
namespace {

const std::string kBackbonePrefix = "backbone.";

BackboneConfig WithoutPretrainingParts(BackboneConfig config) {
  config.sere_heads = false;
  config.masked_im_modeling = false;
  return config;
}

}  // namespace

ClassifierImpl::ClassifierImpl(const ClassifierConfig& config) : config_(config) {
  TORCH_CHECK(config.num_classes >= 1, "a classifier needs at least one class, got ", config.num_classes);
  config_.backbone = WithoutPretrainingParts(config.backbone);
  const int64_t D = config_.backbone.embed_dim;
  backbone = register_module("backbone", VisionTransformer(config_.backbone));
  if (config.mean_pooling) {
    fc_norm = register_module("fc_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({D}).eps(1e-6)));
    // The final norm is not used: it takes no gradient, and no optimiser group (or gradient
    // averaging) waits for one.
    for (auto& p : backbone->norm->parameters()) p.set_requires_grad(false);
  }
  head = register_module("head", torch::nn::Linear(D, config.num_classes));
  torch::NoGradGuard no_grad;
  TruncNormal_(head->weight, 0.02);
  head->bias.zero_();
  head->weight.mul_(config.init_scale);
  head->bias.mul_(config.init_scale);
}

at::Tensor ClassifierImpl::forward(const at::Tensor& images) {
  if (!config_.mean_pooling) return head->forward(backbone->tokens(images).select(1, 0));
  auto x = backbone->unnormalised_tokens(images);
  return head->forward(fc_norm->forward(x.narrow(1, 1, x.size(1) - 1).mean(1)));
}

NamedTensors ClassifierImpl::state() const {
  NamedTensors out;
  auto add = [&out](const torch::nn::Module& module, const std::string& prefix) {
    for (const auto& p : module.named_parameters()) out.emplace_back(prefix + p.key(), p.value());
    for (const auto& b : module.named_buffers()) out.emplace_back(prefix + b.key(), b.value());
  };
  add(*backbone, "");
  if (fc_norm) add(*fc_norm, "fc_norm.");
  add(*head, "head.");
  return out;
}

void ClassifierImpl::load_state(const NamedTensors& entries) {
  const auto nothing = [](const std::string&) { return false; };
  LoadNamedTensors(state(), entries, nothing, nothing);
}

void ClassifierImpl::load_backbone(const NamedTensors& entries) {
  NamedTensors ours, given;
  for (const auto& p : backbone->named_parameters()) ours.emplace_back(kBackbonePrefix + p.key(), p.value());
  for (const auto& b : backbone->named_buffers()) ours.emplace_back(kBackbonePrefix + b.key(), b.value());
  for (const auto& entry : entries)
    if (!IsTrainingOnly(entry.first)) given.push_back(entry);
  const auto nothing = [](const std::string&) { return false; };
  LoadNamedTensors(ours, given, nothing, nothing);
}

}  // namespace sere::model
