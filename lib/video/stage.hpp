#pragma once
// vs-decode's stage: options, and the per-record work (resolve the path, look up the frame cache,
// decode and sample, resize, write frames, set the record's `frames` key).
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>

#include "io/record.hpp"
#include "video/decoder.hpp"
#include "video/image_io.hpp"
#include "video/sampling.hpp"

namespace CLI {
class App;
}

namespace vstar::video {

struct DecodeOptions {
  std::string sample = "qwen";  // --sample
  std::string resize = "none";  // --resize none|qwen
  std::string format = "png";   // --format png|jpg:Q
  std::string root;             // --root: base for relative `video` paths
  double timeout_s = 120;       // --timeout, seconds per clip (0 = none)
  int decode_threads = 0;       // --decode-threads, libavcodec threads per clip (0 = auto)
  bool no_cache = false;        // --no-cache: decode even when the cache has the frames
  bool no_seek = false;         // --no-seek: always decode sequentially (the reference path)

  void Register(CLI::App& app);
};

class DecodeStage {
 public:
  // Validates the options; throws std::invalid_argument for bad values. `clip_threads` is the
  // number of clips decoded at once (--threads), used to size the per-clip decoder threads.
  DecodeStage(const DecodeOptions& opt, int clip_threads);

  // Adds `frames` to the record, or an error when the clip cannot be decoded or sampled.
  void Process(io::Record& rec);
  // The `frames` object for one file (throws DecodeError/SamplingError/std::runtime_error).
  io::Json DecodeFile(const std::filesystem::path& file);

  uint64_t decoded() const { return decoded_; }
  uint64_t cache_hits() const { return cache_hits_; }

 private:
  std::filesystem::path Resolve(const std::string& video) const;

  DecodeOptions opt_;
  SampleSpec spec_;
  ImageFormat format_;
  bool resize_qwen_ = false;
  ReaderOptions reader_;
  std::atomic<uint64_t> decoded_{0};
  std::atomic<uint64_t> cache_hits_{0};
};

}  // namespace vstar::video
