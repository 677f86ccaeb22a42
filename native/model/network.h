#pragma once
// One network of the method: backbone + iBOT head, as the reference's MultiCropWrapper,
// so its state dict names are `backbone.*` and `head.*`.
#include <torch/torch.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "model/config.h"
#include "model/ibot_head.h"
#include "model/vit.h"

namespace sere::model {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

class SereNetworkImpl : public torch::nn::Module {
 public:
  explicit SereNetworkImpl(const NetworkConfig& config);

  // Parameters and buffers under the reference's names. With a shared head the patch layer
  // also appears as `head.last_layer2.*`, as in a PyTorch state dict of the reference.
  NamedTensors state() const;
  // Copies `entries` into the network. Every name of state() must be given with its shape
  // (`head.last_layer2.*` is optional when shared); otherwise throws listing the missing,
  // unexpected and wrongly-shaped keys. `backbone_only` leaves the head out of the check.
  void load_state(const NamedTensors& entries, bool backbone_only = false);
  int64_t parameter_count(bool trainable_only = false) const;

  const NetworkConfig& config() const { return config_; }

  VisionTransformer backbone{nullptr};
  IBOTHead head{nullptr};

 private:
  NetworkConfig config_;
};
TORCH_MODULE(SereNetwork);

// Copies `entries` into `ours` (tensors of a network) by name. Every difference of names or
// shapes that the two predicates do not allow makes it throw one message listing the missing,
// unexpected and wrongly-shaped keys, before anything is copied.
void LoadNamedTensors(const NamedTensors& ours, const NamedTensors& entries,
                      const std::function<bool(const std::string&)>& may_be_missing,
                      const std::function<bool(const std::string&)>& may_be_extra);

// Parts of a backbone that only pretraining uses: the student's masked_embed and the SERE
// heads (DINO and iBOT backbones have none), named `backbone.*`.
bool IsTrainingOnly(const std::string& name);

// For a scope: evaluation mode (no stochastic depth) without gradients; the network's mode
// comes back when the scope ends, so inference between training steps leaves training alone.
class InferenceScope {
 public:
  explicit InferenceScope(torch::nn::Module& network) : network_(network), was_training_(network.is_training()) {
    network_.eval();
  }
  ~InferenceScope() { network_.train(was_training_); }
  InferenceScope(const InferenceScope&) = delete;
  InferenceScope& operator=(const InferenceScope&) = delete;

 private:
  torch::nn::Module& network_;
  bool was_training_;
  torch::NoGradGuard no_grad_;
};

}  // namespace sere::model
