#include "model/network.h"

#include <map>
#include <sstream>

#include "model/names.h"

namespace sere::model {

SereNetworkImpl::SereNetworkImpl(const NetworkConfig& config) : config_(config) {
  backbone = register_module("backbone", VisionTransformer(config.backbone));
  if (config.with_head) head = register_module("head", IBOTHead(config.backbone.embed_dim, config.head));
}

NamedTensors SereNetworkImpl::state() const {
  NamedTensors out;
  for (const auto& p : named_parameters()) out.emplace_back(p.key(), p.value());
  for (const auto& b : named_buffers()) out.emplace_back(b.key(), b.value());
  if (head && head->shared()) {
    out.emplace_back("head.last_layer2.weight_g", head->last_layer->weight_g);
    out.emplace_back("head.last_layer2.weight_v", head->last_layer->weight_v);
  }
  return out;
}

int64_t SereNetworkImpl::parameter_count(bool trainable_only) const {
  int64_t count = 0;
  for (const auto& p : parameters())
    if (!trainable_only || p.requires_grad()) count += p.numel();
  return count;
}

namespace {

std::string ListOf(const std::vector<std::string>& items) {
  std::ostringstream out;
  const size_t shown = std::min<size_t>(items.size(), 20);
  for (size_t i = 0; i < shown; ++i) out << (i ? ", " : "") << items[i];
  if (items.size() > shown) out << ", ... and " << items.size() - shown << " more";
  return out.str();
}

bool IsSharedAlias(const std::string& name) { return StartsWith(name, "head.last_layer2."); }

}  // namespace

// Loading a backbone alone takes these when the file has them and does without them otherwise.
bool IsTrainingOnly(const std::string& name) {
  return name == "backbone.masked_embed" || StartsWith(name, "backbone.channel_sere") ||
         StartsWith(name, "backbone.pixel_sere");
}

void SereNetworkImpl::load_state(const NamedTensors& entries, bool backbone_only) {
  NamedTensors ours;
  for (auto& [name, tensor] : state())
    if (!backbone_only || StartsWith(name, "backbone.")) ours.emplace_back(name, tensor);
  const bool shared = head && head->shared();
  // With a shared head, last_layer2 aliases last_layer: last_layer's entry decides.
  NamedTensors given;
  for (const auto& entry : entries)
    if (!(shared && IsSharedAlias(entry.first))) given.push_back(entry);
  LoadNamedTensors(
      ours, given,
      /*may_be_missing=*/
      [&](const std::string& name) {
        return (shared && IsSharedAlias(name)) || (backbone_only && IsTrainingOnly(name));
      },
      // The head of a full checkpoint is simply not wanted when loading a backbone.
      /*may_be_extra=*/
      [&](const std::string& name) { return backbone_only && (StartsWith(name, "head.") || IsTrainingOnly(name)); });
}

void LoadNamedTensors(const NamedTensors& ours, const NamedTensors& entries,
                      const std::function<bool(const std::string&)>& may_be_missing,
                      const std::function<bool(const std::string&)>& may_be_extra) {
  std::map<std::string, at::Tensor> by_name(ours.begin(), ours.end());
  std::vector<std::string> missing, unexpected, wrong_shape;
  std::map<std::string, bool> given;
  for (const auto& [name, tensor] : entries) {
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      if (!may_be_extra(name)) unexpected.push_back(name);
      continue;
    }
    given[name] = true;
    if (it->second.sizes() != tensor.sizes()) {
      std::ostringstream s;
      s << name << " (checkpoint " << tensor.sizes() << ", model " << it->second.sizes() << ")";
      wrong_shape.push_back(s.str());
    }
  }
  for (const auto& [name, tensor] : ours)
    if (!given.count(name) && !may_be_missing(name)) missing.push_back(name);
  if (!missing.empty() || !unexpected.empty() || !wrong_shape.empty()) {
    std::ostringstream msg;
    msg << "the checkpoint does not match the model";
    if (!missing.empty()) msg << "\n  missing keys (" << missing.size() << "): " << ListOf(missing);
    if (!unexpected.empty()) msg << "\n  unexpected keys (" << unexpected.size() << "): " << ListOf(unexpected);
    if (!wrong_shape.empty()) msg << "\n  wrongly-shaped keys (" << wrong_shape.size() << "): " << ListOf(wrong_shape);
    msg << "\nCheck the architecture options (arch, patch size, image size, heads) against the checkpoint's.";
    TORCH_CHECK(false, msg.str());
  }
  torch::NoGradGuard no_grad;
  for (const auto& [name, tensor] : entries) {
    auto it = by_name.find(name);
    if (it != by_name.end()) it->second.copy_(tensor.to(it->second.device(), it->second.scalar_type()));
  }
}

}  // namespace sere::model
