#pragma once
// How the C library's allocator treats memory that tensors free.
namespace sere {

// With glibc's defaults, tensors of a few MB are mapped and unmapped on every use and
// freed heap memory is handed back to the system, so each training step pays page faults
// for its activations again (a third of a CPU step's time on small models). This keeps
// freed memory for reuse instead: blocks up to 32 MiB come from the heap, the heap is not
// trimmed, and it grows in 64 MiB steps. The process's resident memory then stays at its
// peak. Does nothing with other C libraries, or when SERE_TORCH_SYSTEM_MALLOC=1.
void RetainFreedMemory();

}  // namespace sere
