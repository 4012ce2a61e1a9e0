#include "io/paths.hpp"

#include <cstdlib>

namespace vstar::io {
namespace fs = std::filesystem;

fs::path ExecutableDir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::current_path() : exe.parent_path();
}

fs::path ShareDir() {
  if (const char* v = std::getenv("VSTAR_SHARE"); v && *v) return v;
  std::error_code ec;
  fs::path installed = ExecutableDir() / ".." / "share" / "vstar";
  if (fs::is_directory(installed, ec)) return fs::weakly_canonical(installed, ec);
#ifdef VSTAR_SOURCE_SHARE_DIR
  if (fs::is_directory(VSTAR_SOURCE_SHARE_DIR, ec)) return VSTAR_SOURCE_SHARE_DIR;
#endif
  return VSTAR_SHARE_DIR_INSTALL;
}

}  // namespace vstar::io
