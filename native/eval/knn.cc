#include "eval/knn.h"

#include <algorithm>

#include "eval/classes.h"

namespace sere::eval {
namespace {

at::Tensor Normalized(const at::Tensor& x) {
  auto f = x.to(at::kFloat);
  return f / f.norm(2, /*dim=*/1, /*keepdim=*/true).clamp_min(1e-12);
}

}  // namespace

std::vector<KnnAccuracy> WeightedKnn(const at::Tensor& train_features, const at::Tensor& train_labels,
                                     const at::Tensor& test_features, const at::Tensor& test_labels,
                                     const KnnOptions& options) {
  TORCH_CHECK(train_features.dim() == 2 && test_features.dim() == 2, "features must be (N, D)");
  TORCH_CHECK(train_features.size(1) == test_features.size(1), "training features are ", train_features.size(1),
              " wide but test features ", test_features.size(1), ": extract both with the same network and tokens");
  TORCH_CHECK(train_labels.dim() == 1 && train_labels.size(0) == train_features.size(0),
              "need one training label per training feature");
  TORCH_CHECK(test_labels.dim() == 1 && test_labels.size(0) == test_features.size(0),
              "need one test label per test feature");
  RequireUsableFeatures(train_features, "k-NN", "training");
  RequireUsableFeatures(test_features, "k-NN", "test");
  TORCH_CHECK(!options.ks.empty(), "give at least one k");
  for (const int64_t k : options.ks) {
    TORCH_CHECK(k >= 1, "k-NN: k must be at least 1, given ", k);
    TORCH_CHECK(k <= train_features.size(0), "k-NN: k = ", k, " exceeds the ", train_features.size(0),
                " training features");
  }
  const int64_t max_k = *std::max_element(options.ks.begin(), options.ks.end());
  TORCH_CHECK(options.temperature > 0, "temperature must be > 0");

  const auto device = train_features.device();
  const auto train = Normalized(train_features).t().contiguous();  // (D, N_train)
  const auto train_y = train_labels.to(device, at::kLong);
  const int64_t classes = ClassCount(train_labels, test_labels, options.num_classes);

  // Each k's counts of correct test features (exact in a double), made percentages at the end.
  std::vector<KnnAccuracy> out;
  for (const int64_t k : options.ks) out.push_back({k, 0, 0});
  const int64_t n_test = test_features.size(0);
  for (int64_t start = 0; start < n_test; start += options.chunk_size) {
    const int64_t rows = std::min(options.chunk_size, n_test - start);
    auto features = Normalized(test_features.narrow(0, start, rows).to(device));
    auto targets = test_labels.narrow(0, start, rows).to(device, at::kLong).view({-1, 1});
    auto [similarity, indices] = at::matmul(features, train).topk(max_k, /*dim=*/1, /*largest=*/true, /*sorted=*/true);
    auto neighbour_labels = train_y.index_select(0, indices.flatten()).view({rows, max_k});
    auto weights = (similarity / options.temperature).exp();
    for (size_t i = 0; i < options.ks.size(); ++i) {
      const int64_t k = options.ks[i];
      auto votes = at::zeros({rows, classes}, weights.options());
      votes.scatter_add_(1, neighbour_labels.narrow(1, 0, k), weights.narrow(1, 0, k));
      // Stable descending sort: equal votes keep the lower class index first.
      auto ranking = std::get<1>(votes.sort(/*stable=*/true, /*dim=*/1, /*descending=*/true));
      auto correct = ranking.narrow(1, 0, std::min<int64_t>(5, classes)).eq(targets);
      out[i].top1 += correct.narrow(1, 0, 1).sum().item<double>();
      out[i].top5 += correct.sum().item<double>();
    }
  }
  for (auto& accuracy : out) {
    accuracy.top1 = 100.0 * accuracy.top1 / n_test;
    accuracy.top5 = 100.0 * accuracy.top5 / n_test;
  }
  return out;
}

}  // namespace sere::eval
