#pragma once
// The iBOT projection head (docs/method.md#ibot-head): MLP to a bottleneck, L2 normalisation, and a
// weight-normalised last layer (weight_g * weight_v / ||weight_v|| row-wise).
#include <torch/torch.h>

#include "model/config.h"

namespace sere::model {

class WeightNormLinearImpl : public torch::nn::Module {
 public:
  WeightNormLinearImpl(int64_t in, int64_t out, bool freeze_norm);
  at::Tensor forward(const at::Tensor& x);
  at::Tensor weight_g, weight_v;  // (out, 1), (out, in): PyTorch's weight_norm names
};
TORCH_MODULE(WeightNormLinear);

struct HeadOutput {
  at::Tensor cls;         // (B, K)
  at::Tensor patches;     // (B, N, K), or (rows, K) for the rows asked for; undefined when not asked for
  at::Tensor patch_mean;  // (B, K): the mean over each image's patches; undefined when not asked for
};

class IBOTHeadImpl : public torch::nn::Module {
 public:
  IBOTHeadImpl(int64_t in_dim, const HeadConfig& config);
  // tokens: (B, 1+N, D) after the backbone's final norm.
  HeadOutput forward(const at::Tensor& tokens, bool with_patches = true);
  // The CLS tokens and only the patch tokens at `patch_rows`, flat indices into the B x N
  // patch tokens: patches is then (rows, K). Each token's output depends on that token
  // alone, so the others need not be computed, nor kept for the backward pass. With
  // `patch_mean`, also the mean of each image's patch outputs: the last layer is linear,
  // so that is the last layer of the mean embedding, and the (B, N, K) outputs are never
  // formed (the MLP still runs on every patch).
  HeadOutput forward(const at::Tensor& tokens, const at::Tensor& patch_rows, bool patch_mean = false);

  torch::nn::Sequential mlp{nullptr};
  WeightNormLinear last_layer{nullptr};
  WeightNormLinear last_layer2{nullptr};  // separate patch layer; null when shared

  bool shared() const { return config_.shared_head; }

 private:
  HeadConfig config_;
};
TORCH_MODULE(IBOTHead);

}  // namespace sere::model
