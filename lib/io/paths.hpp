#pragma once
// Where installed or build-tree resources live, found relative to the running executable so a
// relocated install (or the build tree) works without configuration.
#include <filesystem>

namespace vstar::io {

std::filesystem::path ExecutableDir();
// share/vstar: $VSTAR_SHARE, else <exe>/../share/vstar, else the source tree's share/vstar (build
// tree), else the configured install prefix.
std::filesystem::path ShareDir();

}  // namespace vstar::io
