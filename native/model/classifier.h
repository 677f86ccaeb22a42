#pragma once
// The network of fine-tuning: a ViT backbone without the SERE heads, the image's
// representation (the CLS token after the final norm, or the mean patch token under its own
// norm `fc_norm`) and a linear `head` over the classes. Its state uses the flat names of
// timm's and iBOT's classification VisionTransformer (`blocks.0.attn.qkv.weight`,
// `fc_norm.weight`, `head.weight`), so fine-tuned weights load there without renaming.
#include <torch/torch.h>

#include "model/network.h"
#include "model/vit.h"

namespace sere::model {

struct ClassifierConfig {
  BackboneConfig backbone;  // sere_heads and masked_im_modeling are turned off
  int64_t num_classes = 1000;
  bool mean_pooling = false;  // the mean patch token under fc_norm instead of the CLS token
  double init_scale = 1.0;    // the head's initial weight and bias are multiplied by this (BEiT's --init_scale)
};

class ClassifierImpl : public torch::nn::Module {
 public:
  explicit ClassifierImpl(const ClassifierConfig& config);

  at::Tensor forward(const at::Tensor& images);  // logits (B, num_classes)

  // Parameters and buffers under the flat names.
  NamedTensors state() const;
  // Copies a full state (flat names, as state() gives); throws naming what does not match.
  void load_state(const NamedTensors& entries);
  // Copies a pretrained backbone (a SereNetwork's `backbone.*` names); the SERE heads and
  // masked_embed, which fine-tuning has no use for, are dropped. With mean pooling the final
  // norm is not used and fc_norm starts afresh (weight 1, bias 0), as in iBOT's fine-tuning.
  void load_backbone(const NamedTensors& entries);

  const ClassifierConfig& config() const { return config_; }

  VisionTransformer backbone{nullptr};
  torch::nn::LayerNorm fc_norm{nullptr};  // mean pooling only
  torch::nn::Linear head{nullptr};

 private:
  ClassifierConfig config_;
};
TORCH_MODULE(Classifier);

}  // namespace sere::model
