// `motion`: a describe tool that turns one person's keypoint trajectories into sub-motion text
// (summary.hpp): "left arm: raised, oscillates side to side, 3 cycles; legs: still".
//
// Keypoints come from one of two places, because the describe interface hands a tool frames only:
//  - pose=suit (default): the suit estimator (plugins/suit) runs on the frames the host passes
//    (vs-synth's world; give the host enough frames, e.g. vs-policy --describe-frames 32);
//  - poses=FILE[,FILE]: vs-pose output (any pose plugin: yolo, topdown, suit), matched to the video by
//    its id, path or video field; all of that record's pose frames are used, whatever frames are passed.
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <vstar/plugin.h>

#include "../suit/suit.hpp"
#include "summary.hpp"

namespace {

namespace vp = vstar::plugin;
using Json = nlohmann::json;
using vstar::motion::Pose;

std::string SuitFile(const vp::Config& c) {
  if (!c.get("suit").empty()) return c.get("suit");
  return c.share_dir + "/synth/suit.tsv";
}

// Keypoints of the person followed through a vs-pose record: the track seen in most frames (vs-pose's
// IoU tracker), else the highest-scoring person of each frame.
std::vector<Pose> PosesOfRecord(const Json& rec) {
  std::vector<Pose> out;
  if (!rec.contains("pose") || !rec["pose"].is_object() || !rec["pose"].contains("frames")) return out;
  const Json& frames = rec["pose"]["frames"];
  static const Json kNobody = Json::array();
  auto people = [](const Json& f) -> const Json& { return f.contains("people") ? f["people"] : kNobody; };
  std::map<int, int> seen;
  for (const auto& f : frames)
    for (const auto& p : people(f))
      if (p.contains("id")) ++seen[p["id"].get<int>()];
  int track = 0, most = 0;
  for (auto [id, n] : seen)
    if (n > most) track = id, most = n;
  for (const auto& f : frames) {
    const Json* best = nullptr;
    for (const auto& p : people(f)) {
      if (track > 0 && p.value("id", 0) != track) continue;
      if (!best || p.value("score", 0.0) > best->value("score", 0.0)) best = &p;
    }
    if (!best || !best->contains("keypoints") || (*best)["keypoints"].size() != 17) continue;
    Pose pose;
    for (size_t k = 0; k < 17; ++k) {
      const auto& kp = (*best)["keypoints"][k];
      pose[k] = {kp.at(0).get<double>(), kp.at(1).get<double>(), kp.at(2).get<double>()};
    }
    out.push_back(pose);
  }
  return out;
}

class Motion : public vp::Describer {
 public:
  explicit Motion(const vp::Config& c) {
    opt_.min_conf = vp::NumberOption(c, "motion", "min_conf", 0.3, 0, 1);
    const std::string files = c.get("poses");
    const std::string pose = c.get("pose", files.empty() ? "suit" : "file");
    if (pose == "suit") {
      try {
        suit_ = std::make_unique<vstar::suit::Estimator>(vstar::suit::Palette::Load(SuitFile(c)));
      } catch (const std::runtime_error& e) {
        throw vp::Error(std::string("motion: ") + e.what());
      }
    } else if (pose == "file") {
      if (files.empty()) throw vp::Error("motion: pose=file needs poses=FILE[,FILE] (vs-pose output)");
      std::stringstream list(files);
      std::string file;
      while (std::getline(list, file, ',')) Index(file);
    } else {
      throw vp::Error("motion: pose must be suit or file, got '" + pose + "'");
    }
  }

  vp::Info info() const override {
    return {"motion",
            vp::Kind::kDescribe,
            "1.0",
            "sub-motion text per body part from one person's keypoint trajectories (suit estimator or vs-pose output)",
            {{"pose", "where keypoints come from: suit (run on the frames) or file (poses=)", "suit"},
             {"poses", "vs-pose output JSONL file(s), comma-separated (implies pose=file)", ""},
             {"suit", "suit colours TSV for pose=suit", "<share>/synth/suit.tsv"},
             {"min_conf", "keypoints below this confidence count as unseen", "0.3"}}};
  }

  vp::Text Describe(const std::string& video_id, const std::vector<vp::Image>& frames) override {
    vp::Text t;
    t.subject = video_id;
    std::vector<Pose> poses;
    if (suit_) {
      for (const auto& f : frames) {
        cv::Mat view(f.height, f.width, CV_8UC3, const_cast<std::uint8_t*>(f.data), f.stride);
        auto fig = suit_->Estimate(view);
        if (!fig.found) continue;
        Pose p;
        for (int k = 0; k < 17; ++k) p[k] = {fig.keypoints[k].x, fig.keypoints[k].y, fig.conf[k]};
        poses.push_back(p);
      }
      t.source = "motion:suit";
    } else {
      auto it = by_video_.find(video_id);
      if (it == by_video_.end()) {
        t.source = "motion:none";
        return t;
      }
      poses = it->second;
      t.source = "motion:file";
    }
    t.text = vstar::motion::Summarise(poses, opt_);
    t.found = !t.text.empty();
    return t;
  }

 private:
  void Index(const std::string& file) {
    std::ifstream in(file);
    if (!in) throw vp::Error("motion: cannot open " + file);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      if (line.empty()) continue;
      Json rec;
      try {
        rec = Json::parse(line);
      } catch (const Json::exception& e) {
        throw vp::Error("motion: " + file + ":" + std::to_string(n) + ": " + e.what());
      }
      auto poses = PosesOfRecord(rec);
      for (const char* key : {"id", "path", "video"})
        if (rec.contains(key) && rec[key].is_string()) by_video_[rec[key].get<std::string>()] = poses;
    }
  }

  vstar::motion::SummaryOptions opt_;
  std::unique_ptr<vstar::suit::Estimator> suit_;
  std::map<std::string, std::vector<Pose>> by_video_;
};

}  // namespace

VSTAR_PLUGIN(Motion)
