#include "model/ibot_head.h"

#include <vector>

#include "model/vit.h"
#include "runtime/precision.h"

namespace sere::model {
namespace {
at::Tensor L2Normalize(const at::Tensor& x) {
  return torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().p(2).dim(-1));
}

// Rows `patch_rows` (flat indices into the B x N patch tokens) of (B, 1 + N, D) tokens,
// gathered in place: image b's patches sit b + 1 rows (the CLS tokens) further on.
at::Tensor SelectPatchRows(const at::Tensor& tokens, const at::Tensor& patch_rows) {
  const int64_t patches = tokens.size(1) - 1;
  auto rows = patch_rows + at::div(patch_rows, patches, "floor") + 1;
  return tokens.reshape({-1, tokens.size(2)}).index_select(0, rows);
}

// The MLP's layers in turn, its Linear layers by ApplyLinear (model/vit.h).
at::Tensor RunMlp(torch::nn::Sequential mlp, at::Tensor x) {
  for (auto& layer : *mlp) {
    const auto* linear = layer.ptr()->as<torch::nn::Linear>();
    x = linear != nullptr ? ApplyLinear(*linear, x) : layer.forward(x);
  }
  return x;
}

// The masks change how many patch rows the heads get from step to step. Rounded up to a
// multiple of this (with row 0 repeated; the extra outputs are dropped), the products see a
// few shapes, which oneDNN prepares and caches once, instead of a new one every step: a
// default run took 0.84x the wall time and 0.53x the peak memory.
constexpr int64_t kPatchRowMultiple = 32;

at::Tensor PaddedPatchRows(const at::Tensor& patch_rows) {
  const int64_t extra = (kPatchRowMultiple - patch_rows.size(0) % kPatchRowMultiple) % kPatchRowMultiple;
  return extra == 0 ? patch_rows : at::cat({patch_rows, at::zeros({extra}, patch_rows.options())});
}
}  // namespace

WeightNormLinearImpl::WeightNormLinearImpl(int64_t in, int64_t out, bool freeze_norm) {
  // weight_v keeps nn.Linear's default initialisation, as in the reference; g starts at 1.
  torch::nn::Linear linear(torch::nn::LinearOptions(in, out).bias(false));
  weight_v = register_parameter("weight_v", linear->weight.detach().clone());
  weight_g = register_parameter("weight_g", torch::ones({out, 1}), /*requires_grad=*/!freeze_norm);
}

// The logits in float32 under autocast too: the losses divide them by temperatures as low as
// 0.02, which would magnify bfloat16's rounding (2^-9 of a logit) fifty times
// (docs/method.md#mixed-precision).
at::Tensor WeightNormLinearImpl::forward(const at::Tensor& x) {
  NoAutocast fp32;
  const auto input = AtLeastFloat32(x);  // float64 stays float64, for finite-difference checks
  return at::linear(input, at::_weight_norm(weight_v, weight_g, /*dim=*/0).to(input.scalar_type()));
}

IBOTHeadImpl::IBOTHeadImpl(int64_t in_dim, const HeadConfig& config) : config_(config) {
  TORCH_CHECK(config.shared_head == false || config.patch_out_dim == config.out_dim,
              "a shared head needs patch_out_dim == out_dim, got ", config.patch_out_dim, " and ", config.out_dim);
  // Indices 0, 2, 4 hold the Linear layers, as in the reference's Sequential.
  mlp = register_module(
      "mlp", torch::nn::Sequential(torch::nn::Linear(in_dim, config.hidden_dim), torch::nn::GELU(),
                                   torch::nn::Linear(config.hidden_dim, config.hidden_dim), torch::nn::GELU(),
                                   torch::nn::Linear(config.hidden_dim, config.bottleneck_dim)));
  InitLinearAndNorm(*mlp);
  last_layer =
      register_module("last_layer", WeightNormLinear(config.bottleneck_dim, config.out_dim, config.norm_last_layer));
  if (!config.shared_head) {
    last_layer2 = register_module(
        "last_layer2", WeightNormLinear(config.bottleneck_dim, config.patch_out_dim, config.norm_last_layer));
  }
}

HeadOutput IBOTHeadImpl::forward(const at::Tensor& tokens, bool with_patches) {
  HeadOutput out;
  if (!with_patches) {
    auto z = L2Normalize(RunMlp(mlp, tokens.select(1, 0)));
    out.cls = last_layer->forward(z);
    return out;
  }
  auto z = L2Normalize(RunMlp(mlp, tokens));
  out.cls = last_layer->forward(z.select(1, 0));
  out.patches = (shared() ? last_layer : last_layer2)->forward(z.narrow(1, 1, z.size(1) - 1));
  return out;
}

HeadOutput IBOTHeadImpl::forward(const at::Tensor& tokens, const at::Tensor& patch_rows, bool patch_mean) {
  const int64_t images = tokens.size(0), patches = tokens.size(1) - 1;
  const auto padded_rows = PaddedPatchRows(patch_rows);
  // The last layer's inputs, stacked: the CLS embeddings, the patch rows asked for and,
  // with patch_mean, the mean patch embedding of each image.
  std::vector<at::Tensor> embeddings;
  if (patch_mean) {
    auto z = L2Normalize(RunMlp(mlp, tokens));
    embeddings = {z.select(1, 0), SelectPatchRows(z, padded_rows), z.narrow(1, 1, patches).mean(1)};
  } else {
    auto selected = SelectPatchRows(tokens, padded_rows);
    auto z = L2Normalize(RunMlp(mlp, at::cat({tokens.select(1, 0), selected})));
    embeddings = {z.narrow(0, 0, images), z.narrow(0, images, selected.size(0))};
  }
  std::vector<at::Tensor> logits;
  if (shared()) {
    std::vector<int64_t> rows;
    for (const auto& e : embeddings) rows.push_back(e.size(0));
    logits = last_layer->forward(at::cat(embeddings)).split_with_sizes(rows);
  } else {
    logits = {last_layer->forward(embeddings[0])};
    for (size_t i = 1; i < embeddings.size(); ++i) logits.push_back(last_layer2->forward(embeddings[i]));
  }
  HeadOutput out;
  out.cls = logits[0];
  out.patches = logits[1].narrow(0, 0, patch_rows.size(0));
  if (patch_mean) out.patch_mean = logits[2];
  return out;
}

}  // namespace sere::model
