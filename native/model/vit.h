#pragma once
// The ViT backbone (docs/method.md#vit-backbone) with the SERE heads
// (docs/method.md#sere-heads), named as in the reference (timm / DINO / iBOT) so that
// state dicts move between the two without renaming.
#include <torch/torch.h>

#include <array>
#include <memory>
#include <optional>
#include <vector>

#include "model/config.h"
#include "model/sere_heads.h"

namespace sere::model {

// x W^T + b by ATen's linear, the op PyTorch's nn.Linear calls. LibTorch's C++ Linear adds
// the bias in a second, in-place op when x has more than two dimensions; under autocast
// that op adds a float32 bias to a bfloat16 product by converting the product to float32
// and back (the default run's forward took 1.07x the time). at::linear is cast as a whole
// and adds the bias within its matrix product (addmm).
at::Tensor ApplyLinear(const torch::nn::LinearImpl& layer, const at::Tensor& x);

// Images to a grid of patch embeddings. The reference's: one P x P convolution of stride P.
// With `conv_stem` (Xiao et al. 2021, "Early convolutions help transformers see better"):
// log2(P) 3x3 convolutions of stride 2, each with BatchNorm and ReLU and twice the channels
// of the one before, ending at D, then the 1x1 projection.
class PatchEmbedImpl : public torch::nn::Module {
 public:
  PatchEmbedImpl(int64_t patch_size, int64_t embed_dim, bool conv_stem);
  at::Tensor forward(const at::Tensor& images);  // (B, 3, H, W) -> (B, D, H/P, W/P)
  // From now on the stem's BatchNorms take their statistics over all ranks.
  void SynchroniseBatchNorm(AllReduceSum all_reduce) {
    all_reduce_ = std::make_shared<AllReduceSum>(std::move(all_reduce));
  }
  torch::nn::ModuleList convs{nullptr}, norms{nullptr};  // the stem; null without one
  torch::nn::Conv2d proj{nullptr};

 private:
  std::shared_ptr<AllReduceSum> all_reduce_;  // unset: per-process BatchNorm
};
TORCH_MODULE(PatchEmbed);

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int64_t dim, int64_t num_heads);
  at::Tensor forward(const at::Tensor& x);
  // softmax(q k^T * d^-0.5) per head, (B, H, T, T).
  at::Tensor attention_weights(const at::Tensor& x);
  torch::nn::Linear qkv{nullptr}, proj{nullptr};

 private:
  // q, k, v per head, each (B, H, T, d).
  std::array<at::Tensor, 3> QueriesKeysValues(const at::Tensor& x);
  int64_t num_heads_;
};
TORCH_MODULE(Attention);

class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t dim, int64_t hidden);
  at::Tensor forward(const at::Tensor& x);
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(Mlp);

class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(int64_t dim, int64_t num_heads, double mlp_ratio, double drop_path);
  at::Tensor forward(const at::Tensor& x);
  // Stochastic depth draws from this generator (a CPU one; the draws are moved to the
  // activations' device), or from the process-wide one while none is set.
  void set_drop_path_generator(at::Generator generator) { generator_ = std::move(generator); }
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  Attention attn{nullptr};
  Mlp mlp{nullptr};

 private:
  at::Tensor DropPath(const at::Tensor& x) const;
  double drop_path_;
  at::Generator generator_;
};
TORCH_MODULE(Block);

struct BackboneOutput {
  at::Tensor tokens;  // all tokens after the final norm, (B, 1+N, D)
  Relations channel;  // (B, D, D)
  Relations spatial;  // (B, H, N, N)
};

class VisionTransformerImpl : public torch::nn::Module {
 public:
  explicit VisionTransformerImpl(const BackboneConfig& config);

  // The training forward: tokens and both self-relations (of z, of p or both: `which`).
  // `mask` (B, n, n) bool replaces masked patch embeddings by masked_embed; `local` selects
  // the local SERE heads.
  BackboneOutput forward(const at::Tensor& images, const std::optional<at::Tensor>& mask = std::nullopt,
                         bool local = false, RelationsOf which = RelationsOf::kBoth);
  // Tokens after the final norm, without the SERE heads (evaluation, features).
  at::Tensor tokens(const at::Tensor& images);
  // The last block's tokens before the final norm (mean pooling normalises the mean instead).
  at::Tensor unnormalised_tokens(const at::Tensor& images);
  // The last block's self-attention, (B, H, 1+N, 1+N).
  at::Tensor last_self_attention(const at::Tensor& images);
  // Outputs of the last n blocks, each after the final norm.
  std::vector<at::Tensor> intermediate_layers(const at::Tensor& images, int64_t n);
  // DINO's evaluation features (eval_linear.py --n_last_blocks, --avgpool_patchtokens): the CLS
  // tokens of the last n blocks, concatenated, and with `avgpool` the last block's mean patch
  // token after them: (B, (n + avgpool) * D).
  at::Tensor evaluation_features(const at::Tensor& images, int64_t n, bool avgpool);

  const BackboneConfig& config() const { return config_; }
  // From now on every BatchNorm of the backbone (the stem's, the SERE heads') takes its
  // statistics over all ranks.
  void SynchroniseBatchNorm(const AllReduceSum& all_reduce);
  // Every block's stochastic depth draws from `generator` (see BlockImpl).
  void set_drop_path_generator(const at::Generator& generator);

  PatchEmbed patch_embed{nullptr};
  at::Tensor cls_token, pos_embed, masked_embed;
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  SereHead channel_sere{nullptr}, pixel_sere{nullptr}, channel_sere_local{nullptr}, pixel_sere_local{nullptr};

 private:
  at::Tensor PrepareTokens(const at::Tensor& images, const std::optional<at::Tensor>& mask);
  // pos_embed for an n_h x n_w patch grid (bicubic, the reference's +0.1 rule).
  at::Tensor PositionEmbedding(int64_t n_h, int64_t n_w) const;
  at::Tensor RunBlocks(at::Tensor x);
  BackboneConfig config_;
};
TORCH_MODULE(VisionTransformer);

// The method's initialisation (docs/method.md#initialisation-and-parameter-names):
// truncated normal (std 0.02) for Linear weights, zeros for their biases, LayerNorm 1/0;
// convolutions and BatchNorm keep LibTorch's defaults.
void InitLinearAndNorm(torch::nn::Module& module);
void TruncNormal_(at::Tensor t, double std);

}  // namespace sere::model
