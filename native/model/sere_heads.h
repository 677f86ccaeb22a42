#pragma once
// SERE heads (spec 1.3): BatchNorm+ReLU projection -> z, 1x1 conv+BN+ReLU predictor -> p,
// and the channel and spatial self-relations of z and of p (objective/relations.h).
#include <torch/torch.h>

namespace sere::model {

struct Relations {
  at::Tensor of_z;  // what the teacher uses
  at::Tensor of_p;  // what the student uses
};

enum class RelationKind { kChannel, kSpatial };

class SereHeadImpl : public torch::nn::Module {
 public:
  SereHeadImpl(int64_t dim, RelationKind kind, int64_t heads);
  // tokens: patch tokens of the last block before the final norm, (B, N, D).
  Relations forward(const at::Tensor& tokens);

  torch::nn::Sequential projection{nullptr}, predictor{nullptr};

 private:
  at::Tensor Relation(const at::Tensor& map) const;
  RelationKind kind_;
  int64_t heads_;
};
TORCH_MODULE(SereHead);

}  // namespace sere::model
