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

namespace cv {
class Mat;
}

namespace vstar::tools {

// JSON of one box / person as written into records (coordinates rounded to 0.01 px).
io::Json BoxJson(const ::vstar::plugin::Box& box, int track_id = 0);
io::Json PersonJson(const ::vstar::plugin::Person& person, int track_id = 0);
// Reads people back from a `pose` value (boxes + keypoints) or boxes from a `detect` value (`pose`
// false: people without keypoints), one list per frame. Throws std::runtime_error if malformed.
std::vector<std::vector<::vstar::plugin::Person>> PeopleFrom(const io::Json& value, bool pose);
std::vector<std::vector<::vstar::plugin::Box>> BoxesFromDetect(const io::Json& detect);

// The one overlay writer: frame i with people[i] drawn, written once into the content-addressed
// cache under a key of the variant, `drawn` (the key's `frames` JSON) and each frame's path, size and
// mtime, so the overlays vs-detect/vs-pose write are the files vs-policy reuses. `frames` holds the
// decoded images when the caller has them (else they are read from `paths`). Returns the PNG paths.
std::vector<std::string> WriteOverlays(const std::vector<std::string>& paths, const std::vector<cv::Mat>* frames,
                                       Overlay variant,
                                       const std::vector<std::vector<::vstar::plugin::Person>>& people,
                                       const io::Json& drawn);

// The frames turn 2 of the two-turn policy shows for the delivered visual tools: the record's `frames`
// object with `paths` replaced by the overlay the authors' get_video_path picks (pose+detect: "pose",
// pose: "po", detect: "bound", neither: the original frames), reusing the overlays the detect/pose key
// lists and drawing them otherwise. `variant` reports which ("pose", "po", "bound" or "original").
io::Json OverlayFrames(const io::Record& record, bool pose, bool detect, std::string* variant);

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
