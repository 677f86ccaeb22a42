#pragma once
#include <string>
#include <vector>

namespace sere {

// How this addon was built and what the LibTorch it runs on can do.
struct BuildInfo {
  std::string libtorch_version;  // the headers compiled against
  std::string compiler;
  bool cxx11_abi;
  bool built_with_cuda;
  bool data_parallel;        // c10d compiled in (native/distributed)
  std::string build_system;  // "cmake-js" or "node-gyp"
  std::string torch_dir;
};

struct RuntimeInfo {
  bool cuda_available;
  int cuda_device_count;
  std::vector<std::string> cuda_devices;
  std::string cudnn_version;  // empty when cuDNN is absent
  int intra_op_threads;
  std::string parallel_backend;
  // The kernels OpenBLAS chose for this CPU (openblas_get_corename); empty with another BLAS.
  std::string blas_core;
  // Where LibTorch's larger float matrix products run: "oneDNN" or "BLAS" (runtime/gemm.h).
  std::string float_gemm;
};

BuildInfo GetBuildInfo();
RuntimeInfo GetRuntimeInfo();

}  // namespace sere
