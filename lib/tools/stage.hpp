#pragma once
// The vs-detect and vs-pose stages: read a record's `frames`, run the chosen plugin over them, and
// write `detect` / `pose` (boxes, keypoints, the plugin/model/options used, overlay paths).
// Per-record failures (unreadable frames, missing model, wrong model task) become error records.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <vstar/plugin.h>

#include "io/record.hpp"
#include "tools/options.hpp"

namespace vstar::tools {


// JSON of one box / person as written into records (coordinates rounded to 0.01 px).
io::Json BoxJson(const ::vstar::plugin::Box& box, int track_id = 0);
io::Json PersonJson(const ::vstar::plugin::Person& person, int track_id = 0);
// Reads boxes back from a `detect` value: one list per frame. Throws std::runtime_error if malformed.
std::vector<std::vector<::vstar::plugin::Box>> BoxesFromDetect(const io::Json& detect);

class DetectStage {
 public:
  DetectStage(const VisualOptions& options, const std::string& device);
  ~DetectStage();
  void Process(io::Record& record);
  const ::vstar::plugin::Info& info() const { return info_; }

 private:
  VisualOptions options_;
  std::unique_ptr<::vstar::plugin::Detector> tool_;
  ::vstar::plugin::Info info_;
  io::Json header_;  // plugin, version, model, options: the same for every record
  std::mutex mu_;    // plugins are not required to be thread-safe
};

class PoseStage {
 public:
  PoseStage(const PoseStageOptions& options, const std::string& device);
  ~PoseStage();
  void Process(io::Record& record);

 private:
  PoseStageOptions options_;
  std::unique_ptr<::vstar::plugin::PoseEstimator> tool_;
  ::vstar::plugin::Info info_;
  io::Json header_;
  std::unique_ptr<::vstar::plugin::Detector> detector_;  // top-down tools only
  io::Json detector_header_;
  std::mutex mu_;
};

}  // namespace vstar::tools
