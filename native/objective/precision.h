#pragma once
// The objective computes in at least fp32: half and bfloat16 inputs (from autocast)
// are promoted, float64 stays float64 (finite-difference checks need it).
#include <ATen/ATen.h>

namespace sere::objective {

inline at::Tensor AtLeastFloat32(const at::Tensor& x) {
  return x.scalar_type() == at::kDouble ? x : x.to(at::kFloat);
}

}  // namespace sere::objective
