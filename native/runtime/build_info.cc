#include "runtime/build_info.h"

#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <dlfcn.h>
#include <torch/version.h>

#if SERE_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

#include "runtime/gemm.h"
#include "runtime/threads.h"

namespace sere {

BuildInfo GetBuildInfo() {
  BuildInfo b;
  b.libtorch_version = TORCH_VERSION;
#if defined(__clang__)
  b.compiler = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  b.compiler = std::string("gcc ") + __VERSION__;
#else
  b.compiler = "unknown";
#endif
#if defined(_GLIBCXX_USE_CXX11_ABI)
  b.cxx11_abi = _GLIBCXX_USE_CXX11_ABI != 0;
#else
  b.cxx11_abi = true;
#endif
  b.built_with_cuda = SERE_WITH_CUDA != 0;
#if SERE_DATA_PARALLEL
  b.data_parallel = true;
#else
  b.data_parallel = false;
#endif
  b.build_system = SERE_BUILD_SYSTEM;
  b.torch_dir = SERE_TORCH_DIR;
  return b;
}

RuntimeInfo GetRuntimeInfo() {
  RuntimeInfo r;
  const auto& hooks = at::detail::getCUDAHooks();
  r.cuda_available = hooks.hasCUDA();
  r.cuda_device_count = r.cuda_available ? hooks.getNumGPUs() : 0;
#if SERE_WITH_CUDA
  for (int i = 0; i < r.cuda_device_count; ++i) r.cuda_devices.push_back(at::cuda::getDeviceProperties(i)->name);
#endif
  if (r.cuda_available && hooks.hasCuDNN()) {
    long v = hooks.versionCuDNN();  // e.g. 90100 -> 9.1.0 (cuDNN >= 9 encodes major * 10000)
    long major = v >= 10000 ? v / 10000 : v / 1000;
    long minor = v >= 10000 ? (v / 100) % 100 : (v / 100) % 10;
    r.cudnn_version = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(v % 100);
  }
  r.intra_op_threads = IntraOpThreads();
  r.parallel_backend = at::get_parallel_info().find("OpenMP") != std::string::npos ? "OpenMP" : "native";
  // Looked up at run time: LibTorch's BLAS may be OpenBLAS or another one.
  using CoreName = char* (*)();
  if (auto core_name = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename")))
    r.blas_core = core_name();
  r.float_gemm = FloatGemmRoute();
  return r;
}

}  // namespace sere
