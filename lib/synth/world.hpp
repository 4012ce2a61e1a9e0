#pragma once
// vs-synth's world: renders clips of every chosen class and writes them as a dataset in the formats
// vs-import writes (man vs-synth for the files), plus the ground-truth side file truth.jsonl
// (per-frame COCO keypoints and the sub-motion timeline; see share/vstar/synth/README.md) that only
// a teacher and tests may read.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace vstar::synth {

struct WorldOptions {
  std::string out;                  // --out
  int per_class = 10;               // --per-class
  uint64_t seed = 0;                // --seed
  std::string size = "160x160";     // --size WxH
  int fps = 10;                     // --fps
  double seconds = 3;               // --seconds
  std::vector<std::string> classes; // --classes (default: all)
  std::string split = "all";        // --split all|base|novel
  std::string nuisance = "medium";  // --nuisance low|medium|high
  std::string codec = "mpeg4";      // --codec
  int qscale = 4;                   // --qscale
  std::string suit;                 // --suit (default: share/vstar/synth/suit.tsv)
  int candidates_per_clip = 0;      // --candidates-per-clip (0: records carry no candidate list)
  int candidates_min = 0;  // --candidates-min: lists of min..per-clip labels (0: all per-clip)

  void Register(CLI::App& app);
};

struct WorldSummary {
  size_t clips = 0;
  size_t classes = 0;
  size_t frames = 0;
};

// Renders and writes the world; `progress` is called after each clip with (done, total). Throws
// std::invalid_argument for bad options and std::runtime_error for I/O or encoder failures.
WorldSummary Generate(const WorldOptions& opt, const std::function<void(size_t, size_t)>& progress = {});

}  // namespace vstar::synth
