#include "runtime/memory.h"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
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

}  // namespace sere
