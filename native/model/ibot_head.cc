#include "model/ibot_head.h"

#include "model/vit.h"

namespace sere::model {
namespace {
at::Tensor L2Normalize(const at::Tensor& x) {
  return torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().p(2).dim(-1));
}
}  // namespace

WeightNormLinearImpl::WeightNormLinearImpl(int64_t in, int64_t out, bool freeze_norm) {
  // weight_v keeps nn.Linear's default initialisation, as in the reference; g starts at 1.
  torch::nn::Linear linear(torch::nn::LinearOptions(in, out).bias(false));
  weight_v = register_parameter("weight_v", linear->weight.detach().clone());
  weight_g = register_parameter("weight_g", torch::ones({out, 1}), /*requires_grad=*/!freeze_norm);
}

at::Tensor WeightNormLinearImpl::forward(const at::Tensor& x) {
  return at::linear(x, at::_weight_norm(weight_v, weight_g, /*dim=*/0).to(x.dtype()));
}

IBOTHeadImpl::IBOTHeadImpl(int64_t in_dim, const HeadConfig& config) : config_(config) {
  TORCH_CHECK(config.shared_head == false || config.patch_out_dim == config.out_dim,
              "a shared head needs patch_out_dim == out_dim, got ", config.patch_out_dim, " and ", config.out_dim);
  // Indices 0, 2, 4 hold the Linear layers, as in the reference's Sequential.
  mlp = register_module("mlp", torch::nn::Sequential(torch::nn::Linear(in_dim, config.hidden_dim), torch::nn::GELU(),
                                                     torch::nn::Linear(config.hidden_dim, config.hidden_dim),
                                                     torch::nn::GELU(),
                                                     torch::nn::Linear(config.hidden_dim, config.bottleneck_dim)));
  InitLinearAndNorm(*mlp);
  last_layer = register_module("last_layer", WeightNormLinear(config.bottleneck_dim, config.out_dim, config.norm_last_layer));
  if (!config.shared_head) {
    last_layer2 = register_module("last_layer2",
                                  WeightNormLinear(config.bottleneck_dim, config.patch_out_dim, config.norm_last_layer));
  }
}

HeadOutput IBOTHeadImpl::forward(const at::Tensor& tokens, bool with_patches) {
  HeadOutput out;
  if (!with_patches) {
    auto z = L2Normalize(mlp->forward(tokens.select(1, 0)));
    out.cls = last_layer->forward(z);
    return out;
  }
  auto z = L2Normalize(mlp->forward(tokens));
  out.cls = last_layer->forward(z.select(1, 0));
  out.patches = (shared() ? last_layer : last_layer2)->forward(z.narrow(1, 1, z.size(1) - 1));
  return out;
}

HeadOutput IBOTHeadImpl::forward(const at::Tensor& tokens, const at::Tensor& patch_rows) {
  const int64_t images = tokens.size(0), dim = tokens.size(2);
  auto patches = tokens.narrow(1, 1, tokens.size(1) - 1).reshape({-1, dim}).index_select(0, patch_rows);
  auto z = L2Normalize(mlp->forward(at::cat({tokens.select(1, 0), patches})));
  HeadOutput out;
  if (shared()) {
    auto logits = last_layer->forward(z);
    out.cls = logits.narrow(0, 0, images);
    out.patches = logits.narrow(0, images, patches.size(0));
  } else {
    out.cls = last_layer->forward(z.narrow(0, 0, images));
    out.patches = last_layer2->forward(z.narrow(0, images, patches.size(0)));
  }
  return out;
}

}  // namespace sere::model
