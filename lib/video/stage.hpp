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
  std::string format = "ppm";   // --format ppm|png|jpg:Q
  std::string root;             // --root: base for relative `video` paths
  double timeout_s = 120;       // --timeout, seconds per clip (0 = none)
  int decode_threads = 0;       // --decode-threads, libavcodec threads per clip (0 = auto)
  bool no_cache = false;        // --no-cache: decode even when the cache has the frames
  bool no_seek = false;         // --no-seek: always decode sequentially (the reference path)
  bool follow_symlinks = false;  // --follow-symlinks: read `video` paths that are symbolic links

  void Register(CLI::App& app);
};

// vs-decode's default --threads: one clip per core. Clips are independent and a clip's own decode
// threads scale poorly at the small sizes of action clips, so clips in parallel use the cores best.
int DefaultClipThreads();

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
  // Where the decoded clips' time went, summed over clips (thread-seconds): demux and decode,
  // conversion to RGB24 (and resizing), encoding and writing the frame files.
  struct Times {
    uint64_t frames = 0;  // frame files written
    double decode_s = 0, convert_s = 0, write_s = 0;
  };
  Times times() const;
  // One line for the log: each stage's seconds and frames/s.
  std::string TimesSummary() const;

 private:
  std::filesystem::path Resolve(const std::string& video) const;

  DecodeOptions opt_;
  SampleSpec spec_;
  ImageFormat format_;
  bool resize_qwen_ = false;
  ReaderOptions reader_;
  std::atomic<uint64_t> decoded_{0};
  std::atomic<uint64_t> cache_hits_{0};
  std::atomic<uint64_t> frames_written_{0};
  std::atomic<uint64_t> decode_ns_{0}, convert_ns_{0}, write_ns_{0};
};

}  // namespace vstar::video
