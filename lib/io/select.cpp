#include "io/select.hpp"

#include <charconv>
#include <stdexcept>
#include <system_error>

#include "io/log.hpp"
#include "io/record.hpp"
#include "io/text.hpp"

namespace vstar::io {
namespace fs = std::filesystem;

uint64_t Fnv1a64(std::string_view bytes) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t Fmix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

bool Shard::Contains(size_t ordinal, std::string_view id) const {
  if (count <= 1) return true;
  if (by == By::kOrder) return ordinal % count == index;
  if (id.empty()) return index == 0;
  return Fmix64(Fnv1a64(id)) % count == index;
}

long long Shard::CountOf(size_t total) const {
  if (count <= 1) return static_cast<long long>(total);
  if (by == By::kId) return -1;
  return total > index ? static_cast<long long>((total - index + count - 1) / count) : 0;
}

Shard ParseShard(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return std::invalid_argument("--shard " + std::string(text) + ": " + why);
  };
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) throw bad("expected I/N, e.g. 0/4");
  auto number = [&](std::string_view part, const char* what) {
    size_t v = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size())
      throw bad(std::string(what) + " is not a non-negative integer");
    return v;
  };
  Shard s;
  s.index = number(text.substr(0, slash), "I");
  s.count = number(text.substr(slash + 1), "N");
  if (s.count == 0) throw bad("N must be at least 1");
  if (s.index >= s.count) throw bad("I must be below N (shards are numbered 0 to N-1)");
  return s;
}

Resume::Resume(const fs::path& output) {
  // A missing file, or one that cannot hold records to keep (/dev/null, a FIFO): nothing is done.
  std::error_code ec;
  if (!fs::is_regular_file(output, ec)) return;
  std::string text = ReadFile(output, "output");
  size_t complete = text.rfind('\n');
  complete = complete == std::string::npos ? 0 : complete + 1;
  // Check every complete line before truncating anything: a file that is not a stage's output stays
  // as it was.
  for (size_t pos = 0, line = 1; pos < complete; ++line) {
    size_t nl = text.find('\n', pos);
    std::string_view l(text.data() + pos, nl - pos);
    pos = nl + 1;
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.find_first_not_of(" \t") == std::string_view::npos) continue;
    if (!Json::parse(l, nullptr, false).is_object())
      throw std::runtime_error(output.string() + ":" + std::to_string(line) +
                               ": not a JSON record; cannot resume into this file");
    // The reader's notion of an id (io::Record::id), so a number id matches its input spelling.
    std::string id = Record(std::string(l), output.string(), line).id();
    if (!id.empty())
      ids_.insert(std::move(id));
    else
      lines_.emplace(l);
  }
  if (complete < text.size()) {
    log::Warn(output.string(), ": dropping an incomplete last line (", text.size() - complete,
              " bytes)");
    fs::resize_file(output, complete);
  }
}

bool Resume::Done(std::string_view id, std::string_view line) const {
  if (!id.empty()) return ids_.count(std::string(id)) > 0;
  return lines_.count(std::string(line)) > 0;
}

}  // namespace vstar::io
