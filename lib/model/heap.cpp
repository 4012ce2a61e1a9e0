#include "model/heap.hpp"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace vstar::model {

bool RetainFreedMemory() {
#if defined(__GLIBC__)
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if ((tunables && std::strstr(tunables, "glibc.malloc.")) || std::getenv("MALLOC_MMAP_MAX_") ||
      std::getenv("MALLOC_TRIM_THRESHOLD_"))
    return false;
  // mallopt(3): M_MMAP_MAX 0 serves large blocks from the heap; a trim threshold above any heap
  // keeps freed blocks at the top for reuse (the default, 128 KiB, returns them at once).
  return mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
#else
  return false;
#endif
}

}  // namespace vstar::model
