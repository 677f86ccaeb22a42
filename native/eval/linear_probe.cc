#include "eval/linear_probe.h"

#include <torch/torch.h>

#include <cmath>

#include "eval/classes.h"
#include "runtime/random.h"

namespace sere::eval {

std::vector<LinearProbeResult> LinearProbe(const at::Tensor& train_features, const at::Tensor& train_labels,
                                           const at::Tensor& test_features, const at::Tensor& test_labels,
                                           const LinearProbeOptions& options) {
  // Training features: (N, D), or (V, N, D) for V augmented views of each image.
  const auto views = train_features.dim() == 3 ? train_features : train_features.unsqueeze(0);
  TORCH_CHECK(views.dim() == 3 && test_features.dim() == 2 && views.size(2) == test_features.size(1),
              "features must be (N, D), or (V, N, D) for training, with the same D for training and test");
  TORCH_CHECK(train_labels.size(0) == views.size(1) && test_labels.size(0) == test_features.size(0),
              "need one label per image");
  RequireUsableFeatures(train_features, "linear probe", "training");
  RequireUsableFeatures(test_features, "linear probe", "test");
  const auto all_views = views.to(at::kFloat);
  const auto x = all_views[0];
  const auto y = train_labels.to(x.device(), at::kLong);
  const auto xt = test_features.to(x.device(), at::kFloat);
  const auto yt = test_labels.to(x.device(), at::kLong).view({-1, 1});
  const int64_t classes = ClassCount(train_labels, test_labels, options.num_classes);
  const int64_t n = x.size(0);
  const int64_t steps_per_epoch = (n + options.batch_size - 1) / options.batch_size;
  const int64_t total_steps = steps_per_epoch * options.epochs;

  std::vector<LinearProbeResult> results;
  int64_t epochs_done = 0;
  for (double lr : options.lrs) {
    // Every learning rate starts from the same weights and batch order, drawn from the
    // probe's own generator (the process-wide one is left alone).
    at::Generator generator = OwnCpuGenerator(options.seed);
    torch::nn::Linear classifier{nullptr};
    {
      SeededConstruction seeded(options.seed);
      classifier = torch::nn::Linear(x.size(1), classes);
    }
    {  // DINO's linear head initialisation: weights N(0, 0.01), bias 0
      torch::NoGradGuard no_grad;
      classifier->weight.normal_(0, 0.01, generator);
      classifier->bias.zero_();
    }
    classifier->to(x.device());
    torch::optim::SGD sgd(classifier->parameters(),
                          torch::optim::SGDOptions(lr).momentum(options.momentum).weight_decay(options.weight_decay));
    int64_t step = 0;
    for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
      // A new augmented view of every image each epoch, as far as there are views.
      const auto view = all_views[epoch % all_views.size(0)];
      auto order = at::randperm(n, generator, at::TensorOptions().dtype(at::kLong)).to(x.device());
      for (int64_t start = 0; start < n; start += options.batch_size, ++step) {
        // cosine schedule over all steps, to 0
        static_cast<torch::optim::SGDOptions&>(sgd.param_groups()[0].options())
            .lr(lr * 0.5 * (1 + std::cos(M_PI * static_cast<double>(step) / total_steps)));
        auto idx = order.narrow(0, start, std::min(options.batch_size, n - start));
        auto loss = at::cross_entropy_loss(classifier->forward(view.index_select(0, idx)), y.index_select(0, idx));
        sgd.zero_grad();
        loss.backward();
        sgd.step();
        if (options.keep_going && !options.keep_going(epochs_done)) throw ProbeStopped();
      }
      ++epochs_done;
    }
    torch::NoGradGuard no_grad;
    auto ranking = std::get<1>(classifier->forward(xt).topk(std::min<int64_t>(5, classes), 1));
    auto correct = ranking.eq(yt);
    const double total = static_cast<double>(xt.size(0));
    const double top1 = correct.narrow(1, 0, 1).sum().item().toDouble();
    const double top5 = correct.sum().item().toDouble();
    results.push_back({lr, 100.0 * top1 / total, 100.0 * top5 / total});
  }
  return results;
}

}  // namespace sere::eval
