#pragma once
// How the C library's allocator treats memory that tensors free; the peak on CUDA devices.
#include <c10/core/Device.h>

#include <cstdint>

namespace sere {

// With glibc's defaults, tensors of a few MB are mapped and unmapped on every use and
// freed heap memory is handed back to the system, so each training step pays page faults
// for its activations again (a third of a CPU step's time on small models). This keeps
// freed memory for reuse instead: blocks up to 32 MiB come from the heap, the heap is not
// trimmed, and it grows in 64 MiB steps. The process's resident memory then stays at its
// peak. Does nothing with other C libraries, or when SERE_TORCH_SYSTEM_MALLOC=1.
void RetainFreedMemory();

// The most bytes tensors held at once on a CUDA device since the process started (the peak
// of LibTorch's caching allocator's allocated bytes; "cuda" is the current device). Throws
// in a build without CUDA.
int64_t CudaPeakAllocatedBytes(c10::Device device);

}  // namespace sere
