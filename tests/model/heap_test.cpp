// RetainFreedMemory (lib/model/heap): a large block freed during a step stays in the heap for the
// next one instead of going back to the kernel, and the user's own allocator tuning wins.
#include <cstdlib>

#include "support.hpp"
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "model/heap.hpp"

#if defined(__GLIBC__)
TEST_CASE("heap: a freed 256 MB block stays in the heap, unless MALLOC_MMAP_MAX_ is set",
          "[model]") {
  constexpr size_t kBlock = size_t{256} << 20;
  // The environment first: with the user's own setting nothing is changed.
  setenv("MALLOC_MMAP_MAX_", "65536", 1);
  CHECK_FALSE(vstar::model::RetainFreedMemory());
  unsetenv("MALLOC_MMAP_MAX_");

  REQUIRE(vstar::model::RetainFreedMemory());
  const size_t mapped_before = mallinfo2().hblkhd;
  void* block = std::malloc(kBlock);
  REQUIRE(block != nullptr);
  // glibc's default serves a block this large with its own mmap (counted in hblkhd) and unmaps it
  // on free; kept in the heap, it is neither.
  CHECK(mallinfo2().hblkhd < mapped_before + kBlock);
  std::free(block);
  CHECK(mallinfo2().fordblks >= kBlock);
}
#endif
