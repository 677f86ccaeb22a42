#pragma once
// The objective computes in at least fp32: half and bfloat16 inputs (from autocast)
// are promoted, float64 stays float64 (finite-difference checks need it).
#include <ATen/ATen.h>
#include <c10/core/impl/LocalDispatchKeySet.h>

namespace sere::objective {

inline at::Tensor AtLeastFloat32(const at::Tensor& x) {
  return x.scalar_type() == at::kDouble ? x : x.to(at::kFloat);
}

// Autocast would run matrix products in fp16/bf16 even on fp32 inputs; relations and
// losses must stay in fp32 (spec section 5), so the objective's entry points run
// with autocast off for their scope.
class NoAutocast {
 private:
  c10::impl::ExcludeDispatchKeyGuard guard_{c10::autocast_dispatch_keyset};
};

}  // namespace sere::objective
