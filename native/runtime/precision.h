#pragma once
// Precision control. Relations and losses are computed in fp32 whatever precision the
// networks run at (docs/method.md#mixed-precision): inside a NoAutocast scope autocast is
// off (it would run matrix products in fp16/bf16 even on fp32 inputs), and AtLeastFloat32
// promotes half inputs (float64 stays float64, for finite-difference checks).
#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/version.h>

namespace sere {

class NoAutocast {
 private:
  c10::impl::ExcludeDispatchKeyGuard guard_{c10::autocast_dispatch_keyset};
};

inline at::Tensor AtLeastFloat32(const at::Tensor& x) { return x.scalar_type() == at::kDouble ? x : x.to(at::kFloat); }

// Autocast's switches for one device type. LibTorch 2.4 made them generic over the device
// type and deprecated the per-device functions that 1.x has (2.5 is the first checked here).
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 5)
inline bool AutocastEnabled(c10::DeviceType d) { return at::autocast::is_autocast_enabled(d); }
inline c10::ScalarType AutocastDtype(c10::DeviceType d) { return at::autocast::get_autocast_dtype(d); }
inline void SetAutocast(c10::DeviceType d, bool enabled, c10::ScalarType dtype) {
  at::autocast::set_autocast_dtype(d, dtype);
  at::autocast::set_autocast_enabled(d, enabled);
}
#else
inline bool AutocastEnabled(c10::DeviceType d) {
  return d == c10::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
inline c10::ScalarType AutocastDtype(c10::DeviceType d) {
  return d == c10::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
inline void SetAutocast(c10::DeviceType d, bool enabled, c10::ScalarType dtype) {
  if (d == c10::kCUDA) {
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(enabled);
  } else {
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(enabled);
  }
}
#endif

// Runs the enclosed forward passes under autocast to `dtype` (bfloat16 or float16) on
// `device`'s type; a no-op for float32. Restores the previous state when it ends.
class AutocastRegion {
 public:
  AutocastRegion(c10::DeviceType device, c10::ScalarType dtype)
      : device_(device), active_(dtype == c10::kBFloat16 || dtype == c10::kHalf) {
    if (!active_) return;
    was_enabled_ = AutocastEnabled(device_);
    previous_dtype_ = AutocastDtype(device_);
    SetAutocast(device_, true, dtype);
  }
  ~AutocastRegion() {
    if (!active_) return;
    SetAutocast(device_, was_enabled_, previous_dtype_);
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
