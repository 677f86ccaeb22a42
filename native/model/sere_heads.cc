#include "model/sere_heads.h"

#include <cmath>

#include "objective/relations.h"
#include "runtime/precision.h"

namespace sere::model {

SereHeadImpl::SereHeadImpl(int64_t dim, RelationKind kind, int64_t heads) : kind_(kind), heads_(heads) {
  projection = register_module("projection", torch::nn::Sequential(torch::nn::BatchNorm2d(dim), torch::nn::ReLU()));
  predictor = register_module(
      "predictor", torch::nn::Sequential(torch::nn::Conv2d(torch::nn::Conv2dOptions(dim, dim, 1).bias(false)),
                                         torch::nn::BatchNorm2d(dim), torch::nn::ReLU()));
}

Relations SereHeadImpl::forward(const at::Tensor& tokens, RelationsOf which) {
  const int64_t B = tokens.size(0), N = tokens.size(1), D = tokens.size(2);
  const auto n = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(N))));
  TORCH_CHECK(n * n == N, "SERE heads need a square grid of patch tokens, got ", N);
  // Contiguous: the 1x1 conv's weight gradient then has the weight's own layout (as the
  // gradient averaging's buckets expect).
  auto map = tokens.transpose(1, 2).reshape({B, D, n, n}).contiguous();
  // BatchNorm in fp32 (as autocast does on CUDA); the 1x1 conv may run in lower precision.
  at::Tensor z, p;
  {
    NoAutocast fp32;
    z = at::relu(
        NormaliseBatch(*projection[0]->as<torch::nn::BatchNorm2dImpl>(), map.to(at::kFloat), all_reduce_.get()));
  }
  auto conv = predictor[0]->as<torch::nn::Conv2dImpl>()->forward(z);
  {
    NoAutocast fp32;
    p = at::relu(
        NormaliseBatch(*predictor[1]->as<torch::nn::BatchNorm2dImpl>(), conv.to(at::kFloat), all_reduce_.get()));
  }
  Relations out;
  if (which != RelationsOf::kPrediction) out.of_z = Relation(z);
  if (which != RelationsOf::kProjection) out.of_p = Relation(p);
  return out;
}

at::Tensor SereHeadImpl::Relation(const at::Tensor& map) const {
  return kind_ == RelationKind::kChannel ? objective::ChannelRelation(map) : objective::SpatialRelation(map, heads_);
}

}  // namespace sere::model
