#include "model/vit.h"

#include <torch/version.h>

#include <cmath>

#include "runtime/precision.h"

namespace sere::model {

void TruncNormal_(at::Tensor t, double std) {
  // Truncation at +-2 (absolute) as in the reference: about 100 std at std 0.02.
  torch::NoGradGuard no_grad;
  t.normal_(0.0, std).clamp_(-2.0, 2.0);
}

void InitLinearAndNorm(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& m : module.modules(/*include_self=*/false)) {
    if (auto* linear = m->as<torch::nn::Linear>()) {
      TruncNormal_(linear->weight, 0.02);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* ln = m->as<torch::nn::LayerNorm>()) {
      ln->weight.fill_(1.0);
      ln->bias.zero_();
    }
  }
}

at::Tensor ApplyLinear(const torch::nn::LinearImpl& layer, const at::Tensor& x) {
  return at::linear(x, layer.weight, layer.bias);
}

PatchEmbedImpl::PatchEmbedImpl(int64_t patch_size, int64_t embed_dim, bool conv_stem) {
  if (!conv_stem) {
    proj = register_module("proj",
                           torch::nn::Conv2d(torch::nn::Conv2dOptions(3, embed_dim, patch_size).stride(patch_size)));
    return;
  }
  int64_t stages = 0;
  while ((int64_t{1} << stages) < patch_size) ++stages;
  TORCH_CHECK(stages > 0 && (int64_t{1} << stages) == patch_size, "a convolutional stem needs a patch size that is a ",
              "power of two (2, 4, 8, 16, ...), got ", patch_size);
  TORCH_CHECK(embed_dim % (int64_t{1} << (stages - 1)) == 0, "a convolutional stem halves embed_dim ", embed_dim, " ",
              stages - 1, " times: it must be a multiple of ", int64_t{1} << (stages - 1));
  convs = register_module("convs", torch::nn::ModuleList());
  norms = register_module("norms", torch::nn::ModuleList());
  int64_t in = 3;
  for (int64_t i = stages - 1; i >= 0; --i) {
    const int64_t out = embed_dim >> i;
    convs->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(2).padding(1).bias(false)));
    norms->push_back(torch::nn::BatchNorm2d(out));
    in = out;
  }
  proj = register_module("proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, embed_dim, 1)));
}

at::Tensor PatchEmbedImpl::forward(const at::Tensor& images) {
  auto x = images;
  for (size_t i = 0; convs && i < convs->size(); ++i) {
    x = convs[i]->as<torch::nn::Conv2dImpl>()->forward(x);
    // BatchNorm in fp32, as in the SERE heads; the convolutions may run in lower precision.
    NoAutocast fp32;
    x = at::relu(NormaliseBatch(*norms[i]->as<torch::nn::BatchNorm2dImpl>(), x.to(at::kFloat), all_reduce_.get()));
  }
  return proj->forward(x);
}

AttentionImpl::AttentionImpl(int64_t dim, int64_t num_heads) : num_heads_(num_heads) {
  qkv = register_module("qkv", torch::nn::Linear(torch::nn::LinearOptions(dim, 3 * dim).bias(true)));
  proj = register_module("proj", torch::nn::Linear(dim, dim));
}

namespace {
// softmax(q k^T * d^-0.5): the attention weights of docs/method.md#vit-backbone.
at::Tensor SoftmaxWeights(const at::Tensor& q, const at::Tensor& k) {
  const double scale = std::pow(static_cast<double>(q.size(-1)), -0.5);
  return (at::matmul(q, k.transpose(-2, -1)) * scale).softmax(-1);
}
}  // namespace

std::array<at::Tensor, 3> AttentionImpl::QueriesKeysValues(const at::Tensor& x) {
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2);
  auto heads = ApplyLinear(*qkv, x).reshape({B, T, 3, num_heads_, C / num_heads_}).permute({2, 0, 3, 1, 4});
  return {heads[0], heads[1], heads[2]};
}

at::Tensor AttentionImpl::forward(const at::Tensor& x) {
  auto [q, k, v] = QueriesKeysValues(x);
#if TORCH_VERSION_MAJOR >= 2
  // Fused kernel (flash / memory-efficient where available); same result as below.
  auto out = at::scaled_dot_product_attention(q, k, v);
#else
  auto out = at::matmul(SoftmaxWeights(q, k), v);
#endif
  return ApplyLinear(*proj, out.transpose(1, 2).reshape(x.sizes()));
}

at::Tensor AttentionImpl::attention_weights(const at::Tensor& x) {
  auto [q, k, v] = QueriesKeysValues(x);
  return SoftmaxWeights(q, k);
}

MlpImpl::MlpImpl(int64_t dim, int64_t hidden) {
  fc1 = register_module("fc1", torch::nn::Linear(dim, hidden));
  fc2 = register_module("fc2", torch::nn::Linear(hidden, dim));
}

at::Tensor MlpImpl::forward(const at::Tensor& x) { return ApplyLinear(*fc2, at::gelu(ApplyLinear(*fc1, x))); }

BlockImpl::BlockImpl(int64_t dim, int64_t num_heads, double mlp_ratio, double drop_path) : drop_path_(drop_path) {
  auto ln = torch::nn::LayerNormOptions({dim}).eps(1e-6);
  norm1 = register_module("norm1", torch::nn::LayerNorm(ln));
  attn = register_module("attn", Attention(dim, num_heads));
  norm2 = register_module("norm2", torch::nn::LayerNorm(ln));
  mlp = register_module("mlp", Mlp(dim, static_cast<int64_t>(dim * mlp_ratio)));
}

at::Tensor BlockImpl::DropPath(const at::Tensor& x) const {
  if (!is_training() || drop_path_ <= 0.0) return x;
  // Stochastic depth: drop the whole residual branch per sample, rescale the kept ones.
  const double keep = 1.0 - drop_path_;
  auto draws = generator_.defined()
                   ? at::rand({x.size(0), 1, 1}, generator_, at::TensorOptions().dtype(at::kFloat)).to(x.options())
                   : at::rand({x.size(0), 1, 1}, x.options());
  auto keep_mask = (keep + draws).floor_();
  return x.div(keep) * keep_mask;
}

at::Tensor BlockImpl::forward(const at::Tensor& x) {
  auto y = x + DropPath(attn->forward(norm1->forward(x)));
  return y + DropPath(mlp->forward(norm2->forward(y)));
}

VisionTransformerImpl::VisionTransformerImpl(const BackboneConfig& config) : config_(config) {
  const int64_t D = config.embed_dim, P = config.patch_size;
  TORCH_CHECK(D % config.num_heads == 0, "embed_dim ", D, " is not divisible by num_heads ", config.num_heads);
  TORCH_CHECK(config.img_size % P == 0, "img_size ", config.img_size, " is not a multiple of patch_size ", P);
  const int64_t n0 = config.img_size / P;

  cls_token = register_parameter("cls_token", torch::zeros({1, 1, D}));
  pos_embed = register_parameter("pos_embed", torch::zeros({1, 1 + n0 * n0, D}));
  if (config.masked_im_modeling) masked_embed = register_parameter("masked_embed", torch::zeros({1, D}));
  patch_embed = register_module("patch_embed", PatchEmbed(P, D, config.conv_stem));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.depth; ++i) {
    // Stochastic depth grows linearly from 0 to drop_path_rate over the blocks.
    double rate = config.depth > 1 ? config.drop_path_rate * i / (config.depth - 1) : 0.0;
    blocks->push_back(Block(D, config.num_heads, config.mlp_ratio, rate));
  }
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({D}).eps(1e-6)));
  if (config.sere_heads) {
    channel_sere = register_module("channel_sere", SereHead(D, RelationKind::kChannel, config.num_heads));
    pixel_sere = register_module("pixel_sere", SereHead(D, RelationKind::kSpatial, config.num_heads));
  }
  if (config.sere_heads && config.local_heads) {
    channel_sere_local = register_module("channel_sere_local", SereHead(D, RelationKind::kChannel, config.num_heads));
    pixel_sere_local = register_module("pixel_sere_local", SereHead(D, RelationKind::kSpatial, config.num_heads));
  }

  TruncNormal_(pos_embed, 0.02);
  TruncNormal_(cls_token, 0.02);
  InitLinearAndNorm(*this);
}

void VisionTransformerImpl::SynchroniseBatchNorm(const AllReduceSum& all_reduce) {
  patch_embed->SynchroniseBatchNorm(all_reduce);
  for (auto* head : {&channel_sere, &pixel_sere, &channel_sere_local, &pixel_sere_local})
    if (*head) (*head)->SynchroniseBatchNorm(all_reduce);
}

void VisionTransformerImpl::set_drop_path_generator(const at::Generator& generator) {
  for (const auto& block : *blocks) block->as<BlockImpl>()->set_drop_path_generator(generator);
}

at::Tensor VisionTransformerImpl::PositionEmbedding(int64_t n_h, int64_t n_w) const {
  const int64_t N0 = pos_embed.size(1) - 1, D = pos_embed.size(2);
  const auto n0 = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(N0))));
  if (n_h == n0 && n_w == n0) return pos_embed;
  auto grid = pos_embed.narrow(1, 1, N0).reshape({1, n0, n0, D}).permute({0, 3, 1, 2});
  // The reference scales by (n + 0.1) / n0 to avoid a floating point off-by-one in the
  // output size; the kernel uses that same factor for its source coordinates.
  const double scale_h = (n_h + 0.1) / n0, scale_w = (n_w + 0.1) / n0;
  const auto out_h = static_cast<int64_t>(std::floor(n0 * scale_h)),
             out_w = static_cast<int64_t>(std::floor(n0 * scale_w));
  auto resized = at::upsample_bicubic2d(grid, {out_h, out_w}, /*align_corners=*/false, scale_h, scale_w);
  TORCH_CHECK(out_h == n_h && out_w == n_w, "position embedding resized to ", out_h, "x", out_w, ", expected ", n_h,
              "x", n_w);
  return at::cat({pos_embed.narrow(1, 0, 1), resized.permute({0, 2, 3, 1}).reshape({1, n_h * n_w, D})}, 1);
}

at::Tensor VisionTransformerImpl::PrepareTokens(const at::Tensor& images, const std::optional<at::Tensor>& mask) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == 3, "images must be (B, 3, H, W), got ", images.sizes());
  const int64_t P = config_.patch_size;
  TORCH_CHECK(images.size(2) % P == 0 && images.size(3) % P == 0, "image size ", images.size(2), "x", images.size(3),
              " is not a multiple of the patch size ", P);
  auto x = patch_embed->forward(images);  // (B, D, n_h, n_w)
  if (mask) {
    TORCH_CHECK(masked_embed.defined(), "this backbone has no masked_embed (masked_im_modeling is off)");
    TORCH_CHECK(mask->sizes() == at::IntArrayRef({x.size(0), x.size(2), x.size(3)}),
                "mask must be (B, n, n) = ", at::IntArrayRef({x.size(0), x.size(2), x.size(3)}), ", got ",
                mask->sizes());
    auto learned = masked_embed.to(x.dtype()).reshape({1, -1, 1, 1});
    x = at::where(mask->to(at::kBool).unsqueeze(1), learned, x);
  }
  const int64_t n_h = x.size(2), n_w = x.size(3);
  // The token stream stays in the parameters' dtype (fp32 under autocast, as on CUDA where
  // LayerNorm outputs fp32); only the matrix products run in lower precision.
  x = x.flatten(2).transpose(1, 2).to(cls_token.scalar_type());
  x = at::cat({cls_token.expand({x.size(0), -1, -1}), x}, 1);
  return x + PositionEmbedding(n_h, n_w);
}

at::Tensor VisionTransformerImpl::RunBlocks(at::Tensor x) {
  for (const auto& block : *blocks) x = block->as<BlockImpl>()->forward(x);
  return x;
}

BackboneOutput VisionTransformerImpl::forward(const at::Tensor& images, const std::optional<at::Tensor>& mask,
                                              bool local, RelationsOf which) {
  TORCH_CHECK(config_.sere_heads, "this backbone has no SERE heads: use tokens() for its features");
  auto x = RunBlocks(PrepareTokens(images, mask));
  // The SERE heads see the patch tokens of the last block before the final norm.
  auto patches = x.narrow(1, 1, x.size(1) - 1);
  TORCH_CHECK(!local || config_.local_heads, "this backbone has no local SERE heads");
  BackboneOutput out;
  out.channel = (local ? channel_sere_local : channel_sere)->forward(patches, which);
  out.spatial = (local ? pixel_sere_local : pixel_sere)->forward(patches, which);
  out.tokens = norm->forward(x);
  return out;
}

at::Tensor VisionTransformerImpl::tokens(const at::Tensor& images) {
  return norm->forward(unnormalised_tokens(images));
}

at::Tensor VisionTransformerImpl::unnormalised_tokens(const at::Tensor& images) {
  return RunBlocks(PrepareTokens(images, std::nullopt));
}

at::Tensor VisionTransformerImpl::last_self_attention(const at::Tensor& images) {
  auto x = PrepareTokens(images, std::nullopt);
  const auto depth = static_cast<int64_t>(blocks->size());
  for (int64_t i = 0; i + 1 < depth; ++i) x = blocks[i]->as<BlockImpl>()->forward(x);
  auto* last = blocks[depth - 1]->as<BlockImpl>();
  return last->attn->attention_weights(last->norm1->forward(x));
}

std::vector<at::Tensor> VisionTransformerImpl::intermediate_layers(const at::Tensor& images, int64_t n) {
  auto x = PrepareTokens(images, std::nullopt);
  const auto depth = static_cast<int64_t>(blocks->size());
  TORCH_CHECK(n >= 1 && n <= depth, "n must be in [1, ", depth, "], got ", n);
  std::vector<at::Tensor> outputs;
  for (int64_t i = 0; i < depth; ++i) {
    x = blocks[i]->as<BlockImpl>()->forward(x);
    if (depth - i <= n) outputs.push_back(norm->forward(x));
  }
  return outputs;
}

at::Tensor VisionTransformerImpl::evaluation_features(const at::Tensor& images, int64_t n, bool avgpool) {
  auto layers = intermediate_layers(images, n);
  std::vector<at::Tensor> parts;
  for (const auto& layer : layers) parts.push_back(layer.select(1, 0));
  if (avgpool) {
    const auto& last = layers.back();
    parts.push_back(last.narrow(1, 1, last.size(1) - 1).mean(1));
  }
  return at::cat(parts, 1).contiguous();
}

}  // namespace sere::model
