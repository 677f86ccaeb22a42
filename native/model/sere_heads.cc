#include "model/sere_heads.h"

#include <cmath>

#include "runtime/precision.h"

namespace sere::model {

at::Tensor ChannelRelation(const at::Tensor& x) {
  Fp32Region fp32;
  auto flat = x.to(at::kFloat).flatten(2);  // (B, D, N)
  auto scaled = flat / std::sqrt(static_cast<double>(flat.size(2)));
  return at::matmul(scaled, scaled.transpose(1, 2));
}

at::Tensor SpatialRelation(const at::Tensor& x, int64_t heads) {
  Fp32Region fp32;
  const int64_t B = x.size(0), D = x.size(1);
  TORCH_CHECK(D % heads == 0, "SpatialRelation: ", D, " channels do not split into ", heads, " heads");
  auto grouped = x.to(at::kFloat).reshape({B, heads, D / heads, -1}).transpose(2, 3);  // (B, H, N, d)
  return at::matmul(grouped, grouped.transpose(2, 3)) * std::pow(static_cast<double>(D / heads), -0.5);
}

SereHeadImpl::SereHeadImpl(int64_t dim, RelationKind kind, int64_t heads) : kind_(kind), heads_(heads) {
  projection = register_module("projection", torch::nn::Sequential(torch::nn::BatchNorm2d(dim), torch::nn::ReLU()));
  predictor = register_module(
      "predictor",
      torch::nn::Sequential(torch::nn::Conv2d(torch::nn::Conv2dOptions(dim, dim, 1).bias(false)),
                            torch::nn::BatchNorm2d(dim), torch::nn::ReLU()));
}

Relations SereHeadImpl::forward(const at::Tensor& tokens) {
  const int64_t B = tokens.size(0), N = tokens.size(1), D = tokens.size(2);
  const auto n = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(N))));
  TORCH_CHECK(n * n == N, "SERE heads need a square grid of patch tokens, got ", N);
  auto map = tokens.transpose(1, 2).reshape({B, D, n, n});
  // BatchNorm in fp32 (as autocast does on CUDA); the 1x1 conv may run in lower precision.
  at::Tensor z, p;
  {
    Fp32Region fp32;
    z = projection->forward(map.to(at::kFloat));
  }
  auto conv = predictor[0]->as<torch::nn::Conv2dImpl>()->forward(z);
  {
    Fp32Region fp32;
    p = at::relu(predictor[1]->as<torch::nn::BatchNorm2dImpl>()->forward(conv.to(at::kFloat)));
  }
  return {Relation(z), Relation(p)};
}

at::Tensor SereHeadImpl::Relation(const at::Tensor& map) const {
  return kind_ == RelationKind::kChannel ? ChannelRelation(map) : SpatialRelation(map, heads_);
}

}  // namespace sere::model
