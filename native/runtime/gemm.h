#pragma once
// Which library multiplies float matrices on the CPU.
//
// LibTorch's CPU kernels (mm, addmm, bmm, linear, convolution's fallbacks) call BLAS's
// Fortran `sgemm_`. The addon defines `sgemm_` itself (gemm.cc); since LibTorch is loaded as
// the addon's dependency, the dynamic linker binds LibTorch's calls to the addon's definition
// before the BLAS library's. Products of at least kOneDnnMinimumWork multiply-adds go to
// oneDNN's sgemm where LibTorch ships oneDNN as a shared library (Debian's does): on the
// thin matrices of small ViTs it ran 1.2x faster than OpenBLAS on one thread and about 2x on
// two, where OpenBLAS's threads cost more than they gain. Smaller products (attention's
// per-head matrices) stay with BLAS, whose cost per call is lower.
// SERE_TORCH_BLAS_GEMM=1 keeps every product on BLAS.
#include <cstdint>
#include <string>

namespace sere {

inline constexpr int64_t kOneDnnMinimumWork = int64_t{1} << 20;  // m * n * k

// "oneDNN" when LibTorch's float products of that size reach oneDNN, "BLAS" otherwise.
std::string FloatGemmRoute();

}  // namespace sere
