#pragma once
// Precision control. Relations and losses are computed in fp32 whatever precision the
// networks run at (docs/method.md#mixed-precision): inside a NoAutocast scope autocast is
// off (it would run matrix products in fp16/bf16 even on fp32 inputs), and AtLeastFloat32
// promotes half inputs (float64 stays float64, for finite-difference checks).
#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>

namespace sere {

class NoAutocast {
 private:
  c10::impl::ExcludeDispatchKeyGuard guard_{c10::autocast_dispatch_keyset};
};

inline at::Tensor AtLeastFloat32(const at::Tensor& x) { return x.scalar_type() == at::kDouble ? x : x.to(at::kFloat); }

// Runs the enclosed forward passes under autocast to `dtype` (bfloat16 or float16) on
// `device`'s type; a no-op for float32. Restores the previous state when it ends.
class AutocastRegion {
 public:
  AutocastRegion(c10::DeviceType device, c10::ScalarType dtype)
      : device_(device), active_(dtype == c10::kBFloat16 || dtype == c10::kHalf) {
    if (!active_) return;
    if (device_ == c10::kCUDA) {
      was_enabled_ = at::autocast::is_enabled();
      previous_dtype_ = at::autocast::get_autocast_gpu_dtype();
      at::autocast::set_autocast_gpu_dtype(dtype);
      at::autocast::set_enabled(true);
    } else {
      was_enabled_ = at::autocast::is_cpu_enabled();
      previous_dtype_ = at::autocast::get_autocast_cpu_dtype();
      at::autocast::set_autocast_cpu_dtype(dtype);
      at::autocast::set_cpu_enabled(true);
    }
  }
  ~AutocastRegion() {
    if (!active_) return;
    if (device_ == c10::kCUDA) {
      at::autocast::set_enabled(was_enabled_);
      at::autocast::set_autocast_gpu_dtype(previous_dtype_);
    } else {
      at::autocast::set_cpu_enabled(was_enabled_);
      at::autocast::set_autocast_cpu_dtype(previous_dtype_);
    }
    at::autocast::clear_cache();
  }
  AutocastRegion(const AutocastRegion&) = delete;
  AutocastRegion& operator=(const AutocastRegion&) = delete;

 private:
  c10::DeviceType device_;
  bool active_;
  bool was_enabled_ = false;
  c10::ScalarType previous_dtype_ = c10::kFloat;
};

}  // namespace sere
