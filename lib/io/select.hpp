#pragma once
// Which input records a run of a record stage processes: its shard of the stream (--shard I/N,
// --shard-by id|order) and, with --resume, only those the output file does not hold yet. Records
// left out are neither processed nor written, so the outputs of the N shards of one input,
// concatenated in any order, hold every record once (vstar(7), "SHARDS AND RESUMING").
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_set>

namespace vstar::io {

// FNV-1a, 64 bits (Fowler, Noll, Vo; offset basis 14695981039346656037, prime 1099511628211): a
// hash fixed by its definition, unlike std::hash, so a record's shard is the same on every machine,
// compiler and run.
uint64_t Fnv1a64(std::string_view bytes);
// MurmurHash3's 64-bit finaliser fmix64 (Appleby, MurmurHash3.cpp). FNV-1a mixes a change in the
// last bytes poorly into the low bits (ids "x_000", "x_001", ... would share a shard mod 4), so
// the shard of an id is Fmix64(Fnv1a64(id)) mod N.
uint64_t Fmix64(uint64_t h);

struct Shard {
  enum class By {
    kId,    // Fmix64(Fnv1a64(id)) mod count: stable when the manifest is reordered or grows
    kOrder  // the record's 0-based position in the input stream, mod count: exactly balanced
  };
  size_t index = 0;  // I of --shard I/N
  size_t count = 1;  // N; 1 = the whole stream
  By by = By::kId;

  bool Whole() const { return count == 1; }
  // Whether the record at 0-based stream position `ordinal` with `id` (empty: a record without one,
  // an input error) belongs to this shard. Records without an id go to shard 0 under kId, so
  // exactly one shard reports each input error.
  bool Contains(size_t ordinal, std::string_view id) const;
  // How many of `total` records the shard holds when that follows from the count alone (kOrder);
  // -1 when it depends on the ids.
  long long CountOf(size_t total) const;
};

// Parses "I/N" (0 <= I < N, decimal); throws std::invalid_argument naming the problem.
Shard ParseShard(std::string_view text);

// The records already in an output file a run resumes into. Opening it drops a torn last line (a
// run killed mid-write) by truncating the file after its last newline; every other line must be a
// JSON object. A record is done when its id is there, or, for records without an id (input errors,
// which the reader reproduces byte for byte), when the identical line is.
class Resume {
 public:
  // A missing file, or one that is not a regular file (/dev/null), is an empty resume (nothing
  // done). Throws std::runtime_error when a complete line is not a JSON object: that file is not a
  // stage's output and is left untouched.
  explicit Resume(const std::filesystem::path& output);

  size_t size() const { return ids_.size() + lines_.size(); }
  bool Done(std::string_view id, std::string_view line) const;

 private:
  std::unordered_set<std::string> ids_;
  std::unordered_set<std::string> lines_;  // complete lines of records without an id
};

}  // namespace vstar::io
