#pragma once
// One fine-tuning iteration, all on the native side (iBOT's and BEiT's classification
// recipe): RandAugment, normalisation, random erasing and mixup / CutMix on the batch (in
// timm's order), the classifier's forward, the
// soft-target cross-entropy, backward, optional gradient-norm clipping and AdamW with
// layer-wise learning-rate decay. Schedule values come in per call (src/finetune/).
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "augment/mix.h"
#include "distributed/communicator.h"
#include "distributed/gradient_averager.h"
#include "model/classifier.h"
#include "train/loss_scaler.h"

namespace sere::train {

struct FinetuneConfig {
  model::ClassifierConfig classifier;
  // Layer-wise lr decay: layer 0 = patch embedding, cls_token and pos_embed; layer i + 1 =
  // block i; layer depth + 1 = the final norms and the head. A parameter's lr is
  // lr * layer_decay ^ (depth + 1 - layer).
  double layer_decay = 0.75;
  double clip_grad = 0.0;  // the gradients' global norm limit; 0 = off
  double label_smoothing = 0.1;
  // An exponential moving average of the weights (timm's ModelEmaV2: every parameter and
  // buffer, after every update): ema = decay * ema + (1 - decay) * weights. 0: none.
  double ema_decay = 0.0;
  // The classifier sees (pixels in [0, 1] - mean) / std, per channel.
  std::vector<double> mean{0.485, 0.456, 0.406}, std{0.229, 0.224, 0.225};
  c10::ScalarType precision = c10::kFloat;  // autocast dtype: float32 (off), bfloat16, float16
  c10::Device device = c10::kCPU;
  // Initial weights (of what the pretrained backbone does not give) come from `seed`; the
  // stochastic depth and the erasing noise draw from a generator of the step's own, seeded
  // with seed + rank.
  uint64_t seed = 0;
  // Data parallelism (null: one process): weights start as rank 0's (after loading, call
  // JoinRanks), gradients are averaged, the reported loss is the mean over ranks.
  std::shared_ptr<distributed::Communicator> communicator;
};

struct FinetuneBatch {
  at::Tensor images;  // (B, 3, S, S), pixels in [0, 1] (cropped and flipped)
  at::Tensor labels;  // (B) class indices
  // RandAugment per image (augment/rand_augment.h): (B, K) op ids and magnitudes; undefined: none.
  at::Tensor rand_augment_ops, rand_augment_magnitudes;
  at::Tensor erase_boxes;  // (M, 5) rows (image, x, y, w, h); undefined: none
  augment::MixPlan mix;    // lambda 1 and no box: no mixing
};

struct FinetuneSchedule {
  double lr = 0;  // before the layer's decay
  double weight_decay = 0;
  bool stop = false;  // this rank wants to stop after this step (reported to every rank)
};

// One AdamW group: parameters of one layer, with or without weight decay.
struct LayerGroup {
  int64_t layer = 0;
  double lr_scale = 1.0;
  bool decayed = true;
  std::vector<std::string> names;
};

// The layer of a parameter (flat names, see FinetuneConfig::layer_decay).
int64_t LayerOf(const std::string& name, int64_t depth);
// Whether weight decay applies: not to 1-D parameters, biases, cls_token and pos_embed.
bool IsDecayed(const std::string& name, const at::Tensor& parameter);
// The AdamW groups of a classifier, layer by layer, decayed group first.
std::vector<LayerGroup> LayerGroups(const model::ClassifierImpl& classifier, double layer_decay);

class FinetuneStep {
 public:
  explicit FinetuneStep(const FinetuneConfig& config);

  // The batch's mean loss (before the update), and whether the update happened (float16:
  // skipped when the scaled gradients overflowed).
  struct Result {
    double loss = 0;
    bool stepped = true;
    bool stop = false;  // some rank asked to stop after this step
  };
  Result Run(const FinetuneBatch& batch, const FinetuneSchedule& schedule);
  // Data parallelism: every rank takes rank 0's weights (call once the weights are loaded).
  void JoinRanks();
  // Evaluation mode (no stochastic depth), no gradients: (B, classes) float32 for pixels in [0, 1];
  // `ema`: of the weights' moving average.
  at::Tensor Logits(const at::Tensor& images, bool ema = false);
  // The moving average's network (null without ema_decay), and whether it has started (it
  // starts as a copy of the weights at the first step).
  model::Classifier ema{nullptr};
  bool ema_started = false;

  model::Classifier classifier{nullptr};
  std::unique_ptr<torch::optim::AdamW> optimizer;
  LossScaler scaler;  // float16 only
  const std::vector<LayerGroup>& groups() const { return groups_; }
  const FinetuneConfig& config() const { return config_; }
  at::Generator& generator() { return generator_; }
  int64_t iteration() const { return iteration_; }
  void set_iteration(int64_t iteration) { iteration_ = iteration; }

 private:
  at::Tensor Normalise(const at::Tensor& pixels) const;
  void UpdateEma();

  FinetuneConfig config_;
  at::Tensor mean_, std_;                                             // (1, 3, 1, 1) on the device
  std::vector<LayerGroup> groups_;                                    // aligned with the optimiser's groups
  std::unique_ptr<distributed::GradientAverager> gradient_averager_;  // data parallelism only
  std::vector<std::pair<at::Tensor, at::Tensor>> ema_pairs_;          // (average, weights), every tensor
  at::Generator generator_;
  int64_t iteration_ = 0;
};

}  // namespace sere::train
