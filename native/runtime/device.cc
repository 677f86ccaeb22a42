#include "runtime/device.h"

#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/util/Exception.h>

namespace sere {

c10::Device ParseDevice(const std::string& name) {
  if (name == "cpu") return c10::Device(c10::kCPU);
  TORCH_CHECK(name == "cuda" || name.rfind("cuda:", 0) == 0, "unknown device \"", name,
              "\": use \"cpu\", \"cuda\" or \"cuda:N\"");
  TORCH_CHECK(SERE_WITH_CUDA, "device \"", name, "\" was requested but this build of sere-torch has no CUDA support ",
              "(it was built against a CPU-only LibTorch). Use device \"cpu\", or rebuild against a CUDA LibTorch ",
              "(see README.md, \"Other platforms\").");
  const auto& hooks = at::detail::getCUDAHooks();
  const int count = hooks.hasCUDA() ? hooks.getNumGPUs() : 0;
  TORCH_CHECK(count > 0, "device \"", name, "\" was requested but no CUDA device is usable on this machine ",
              "(driver missing or CUDA_VISIBLE_DEVICES empty?). Use device \"cpu\".");
  int index = 0;
  if (name.size() > 5) {
    try {
      index = std::stoi(name.substr(5));
    } catch (const std::exception&) {
      TORCH_CHECK(false, "unknown device \"", name, "\": use \"cuda:N\" with N a device index");
    }
  }
  TORCH_CHECK(index >= 0 && index < count, "device \"", name, "\" does not exist: this machine has ", count,
              " CUDA device(s), cuda:0 to cuda:", count - 1);
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

c10::ScalarType ParseFloatDtype(const std::string& name) {
  if (name == "float32") return c10::kFloat;
  if (name == "bfloat16") return c10::kBFloat16;
  if (name == "float16") return c10::kHalf;
  if (name == "float64") return c10::kDouble;
  TORCH_CHECK(false, "unknown dtype \"", name, "\": use \"float32\", \"bfloat16\", \"float16\" or \"float64\"");
}

}  // namespace sere
