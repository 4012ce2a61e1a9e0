#pragma once
// The content-addressed cache for pixels and other artefacts ($VSTAR_CACHE, default ~/.cache/vstar).
// Keys are hashed with SHA-256; a stage builds a key from everything that determines its output.
#include <filesystem>
#include <string>
#include <string_view>

namespace vstar::io {

std::filesystem::path CacheRoot();  // $VSTAR_CACHE or $XDG_CACHE_HOME/vstar or ~/.cache/vstar
std::string Sha256Hex(std::string_view data);
std::string Sha256File(const std::filesystem::path& file);  // streams the file
// <root>/<kind>/<aa>/<hash>: a directory for one cached item.
std::filesystem::path CacheDir(std::string_view kind, std::string_view key);
// Writes `data` to `path` atomically (temp file + rename) so concurrent runs never see half a file.
void WriteFileAtomic(const std::filesystem::path& path, std::string_view data);

}  // namespace vstar::io
