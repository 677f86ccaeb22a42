#pragma once
// Matrix products of batches of small matrices: the attention of a small ViT (17 x 32 by
// 32 x 17 per head and image) and the spatial relations.
#include <ATen/ATen.h>

namespace sere {

// a (..., m, k) @ b (..., k, n), both with the same leading dimensions: at::matmul's result.
// On the CPU in float32, when each product is small (m * n * k up to 65,536), the batch is
// split over the intra-op threads and each product is a plain loop on raw pointers: ATen's
// CPU bmm (LibTorch 1.x without MKL) multiplies the matrices one by one on one thread, with
// three tensor views and a BLAS call each, about 8,000 times in a step of the default preset.
// Elsewhere (CUDA, other dtypes, larger products) it is at::matmul.
at::Tensor BatchedMatmul(const at::Tensor& a, const at::Tensor& b);

}  // namespace sere
