#pragma once
// SERE heads (spec 1.3): BatchNorm+ReLU projection -> z, 1x1 conv+BN+ReLU predictor -> p,
// and the channel and spatial self-relations of z and of p.
#include <torch/torch.h>

namespace sere::model {

// Channel self-relation of a map x (B, D, n, n): (x/s)(x/s)^T with s = sqrt(N), (B, D, D).
// Equals the mean over positions of the outer products x_n x_n^T. Computed in fp32.
at::Tensor ChannelRelation(const at::Tensor& x);
// Spatial self-relation of a map x (B, D, n, n) in `heads` groups of d = D/heads channels:
// x x^T * d^-0.5 over positions, (B, heads, N, N). Computed in fp32.
at::Tensor SpatialRelation(const at::Tensor& x, int64_t heads);

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
