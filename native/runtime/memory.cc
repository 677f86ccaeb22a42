#include "runtime/memory.h"

#include <c10/util/Exception.h>

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#if SERE_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace sere {

void RetainFreedMemory() {
#if defined(__GLIBC__)
  const char* opt_out = std::getenv("SERE_TORCH_SYSTEM_MALLOC");
  if (opt_out != nullptr && std::strcmp(opt_out, "1") == 0) return;
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);  // glibc's largest
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 * 1024 * 1024);
#endif
}

int64_t CudaPeakAllocatedBytes(c10::Device device) {
  TORCH_CHECK(device.is_cuda(), "the peak of CUDA memory needs a CUDA device, not \"", device.str(), "\"");
#if SERE_WITH_CUDA
  const auto index = device.has_index() ? device.index() : c10::cuda::current_device();
  // allocated_bytes[0]: the aggregate over all pools (StatType::AGGREGATE in every version)
  return c10::cuda::CUDACachingAllocator::getDeviceStats(index).allocated_bytes[0].peak;
#else
  TORCH_CHECK(false, "this build of sere-torch has no CUDA support (built against a CPU-only LibTorch)");
  return 0;
#endif
}

}  // namespace sere
