#include "runtime/batched_matmul.h"

#include <ATen/Parallel.h>
#include <torch/autograd.h>

#include <algorithm>
#include <vector>

namespace sere {
namespace {

// Products of up to this many multiply-adds per matrix take the loop below; larger ones are
// worth a BLAS call each.
constexpr int64_t kMaxSmallProduct = 1 << 16;

// c (m x n) = op(a) op(b), row-major; op(a) is a (m x k) or, with ta, the transpose of a
// (k x m); op(b) is b (k x n) or, with tb, the transpose of b (n x k), first copied into
// `scratch` (k x n). Each c[i][j] sums its k terms in order, so the result does not depend
// on how the batch is split. Compiled for AVX-512, AVX2 and the baseline, chosen at load.
__attribute__((target_clones("avx512f", "avx2", "default"))) void MultiplyOne(const float* __restrict__ a,
                                                                              const float* __restrict__ b,
                                                                              float* __restrict__ c, int64_t m,
                                                                              int64_t n, int64_t k, bool ta, bool tb,
                                                                              float* __restrict__ scratch) {
  if (tb) {
    for (int64_t p = 0; p < k; ++p)
      for (int64_t j = 0; j < n; ++j) scratch[p * n + j] = b[j * k + p];
    b = scratch;
  }
  std::fill(c, c + m * n, 0.0f);
  for (int64_t i = 0; i < m; ++i) {
    float* __restrict__ row = c + i * n;
    for (int64_t p = 0; p < k; ++p) {
      const float x = ta ? a[p * m + i] : a[i * k + p];
      const float* __restrict__ b_row = b + p * n;
      for (int64_t j = 0; j < n; ++j) row[j] += x * b_row[j];
    }
  }
}

// op(a) @ op(b) for contiguous float32 batches (B, ., .), split over the intra-op threads.
at::Tensor MultiplyBatch(const at::Tensor& a, const at::Tensor& b, bool ta, bool tb) {
  const int64_t batch = a.size(0);
  const int64_t m = ta ? a.size(2) : a.size(1), k = ta ? a.size(1) : a.size(2);
  const int64_t n = tb ? b.size(1) : b.size(2);
  auto c = at::empty({batch, m, n}, a.options());
  const float* pa = a.data_ptr<float>();
  const float* pb = b.data_ptr<float>();
  float* pc = c.data_ptr<float>();
  // At least ~16k multiply-adds per task, so tiny products are not spread thinner than that.
  const int64_t grain = std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, m * n * k));
  at::parallel_for(0, batch, grain, [&](int64_t begin, int64_t end) {
    std::vector<float> scratch(tb ? k * n : 0);
    for (int64_t i = begin; i < end; ++i)
      MultiplyOne(pa + i * m * k, pb + i * k * n, pc + i * m * n, m, n, k, ta, tb, scratch.data());
  });
  return c;
}

// a @ b with its gradients: d/da = g @ b^T, d/db = a^T @ g, by the same loop.
struct SmallBatchedMatmul : public torch::autograd::Function<SmallBatchedMatmul> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& a, const at::Tensor& b) {
    ctx->save_for_backward({a, b});
    return MultiplyBatch(a, b, false, false);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    auto g = grads[0].contiguous();
    return {MultiplyBatch(g, saved[1], false, true), MultiplyBatch(saved[0], g, true, false)};
  }
};

}  // namespace

at::Tensor BatchedMatmul(const at::Tensor& a, const at::Tensor& b) {
  const int64_t dims = a.dim();
  const bool small = a.device().is_cpu() && b.device().is_cpu() && a.scalar_type() == at::kFloat &&
                     b.scalar_type() == at::kFloat && dims >= 3 && b.dim() == dims &&
                     a.sizes().slice(0, dims - 2) == b.sizes().slice(0, dims - 2) && a.size(-1) == b.size(-2) &&
                     a.size(-2) * a.size(-1) * b.size(-1) <= kMaxSmallProduct;
  if (!small) return at::matmul(a, b);
  auto a3 = a.reshape({-1, a.size(-2), a.size(-1)}).contiguous();
  auto b3 = b.reshape({-1, b.size(-2), b.size(-1)}).contiguous();
  std::vector<int64_t> shape(a.sizes().begin(), a.sizes().end() - 1);
  shape.push_back(b.size(-1));
  return SmallBatchedMatmul::apply(a3, b3).view(shape);
}

}  // namespace sere
