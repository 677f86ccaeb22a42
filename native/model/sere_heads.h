#pragma once
// SERE heads (docs/method.md#sere-heads): BatchNorm+ReLU projection -> z, 1x1 conv+BN+ReLU predictor -> p,
// and the channel and spatial self-relations of z and of p (objective/relations.h).
#include <torch/torch.h>

#include <memory>

#include "model/sync_batch_norm.h"

namespace sere::model {

struct Relations {
  at::Tensor of_z;  // what the teacher uses
  at::Tensor of_p;  // what the student uses
};

enum class RelationKind { kChannel, kSpatial };

// Which relations a forward computes: the teacher's loss reads those of z, the student's
// those of p, and each network's other pair would be computed for nothing.
enum class RelationsOf { kBoth, kProjection, kPrediction };

class SereHeadImpl : public torch::nn::Module {
 public:
  SereHeadImpl(int64_t dim, RelationKind kind, int64_t heads);
  // tokens: patch tokens of the last block before the final norm, (B, N, D).
  // The predictor runs whatever `which` asks (its BatchNorm statistics follow every batch).
  Relations forward(const at::Tensor& tokens, RelationsOf which = RelationsOf::kBoth);
  // From now on the BatchNorms take their statistics over all ranks (data parallelism).
  void SynchroniseBatchNorm(AllReduceSum all_reduce) {
    all_reduce_ = std::make_shared<AllReduceSum>(std::move(all_reduce));
  }

  torch::nn::Sequential projection{nullptr}, predictor{nullptr};

 private:
  at::Tensor Relation(const at::Tensor& map) const;
  RelationKind kind_;
  int64_t heads_;
  std::shared_ptr<AllReduceSum> all_reduce_;  // unset: per-process BatchNorm
};
TORCH_MODULE(SereHead);

}  // namespace sere::model
