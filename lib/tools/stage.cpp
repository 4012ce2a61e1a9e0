#include "tools/stage.hpp"

#include <cmath>
#include <filesystem>
#include <optional>
#include <stdexcept>

#include <opencv2/imgcodecs.hpp>

#include "io/cache.hpp"
#include "io/log.hpp"
#include "tools/overlay.hpp"
#include "tools/plugins.hpp"
#include "tools/track.hpp"

namespace vstar::tools {
namespace fs = std::filesystem;
using io::Json;

namespace {

// Rounds to `per_unit` steps per unit (100 = 0.01); dividing last keeps the shortest decimal form.
double Round(double v, double per_unit) { return std::round(v * per_unit) / per_unit; }

struct Frames {
  std::vector<std::string> paths;
  std::vector<cv::Mat> mats;
  std::vector<plugin::Image> images;
};

// Reads frames.paths; any unreadable frame fails the record (the message names it).
Frames LoadFrames(const io::Record& record) {
  Json frames = record.get("frames");
  if (frames.is_null()) throw std::runtime_error("record has no `frames` (run vs-decode first)");
  if (!frames.is_object() || !frames.contains("paths") || !frames["paths"].is_array())
    throw std::runtime_error("`frames.paths` is missing or not an array");
  Frames out;
  for (const auto& p : frames["paths"]) {
    if (!p.is_string()) throw std::runtime_error("`frames.paths` holds a non-string entry");
    std::string path = p.get<std::string>();
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) throw std::runtime_error("frame file not found: " + path);
    cv::Mat m = cv::imread(path, cv::IMREAD_COLOR);
    if (m.empty()) throw std::runtime_error("cannot read frame " + path);
    out.paths.push_back(path);
    out.mats.push_back(std::move(m));
  }
  if (out.paths.empty()) throw std::runtime_error("`frames.paths` is empty");
  for (size_t i = 0; i < out.mats.size(); ++i) {
    const cv::Mat& m = out.mats[i];
    out.images.push_back({m.cols, m.rows, static_cast<int>(m.step[0]), m.data, out.paths[i]});
  }
  return out;
}

// Runs `fn` over frames in chunks of `batch` (0 = all at once) and concatenates the results.
template <typename Result, typename Fn>
std::vector<Result> Chunked(const std::vector<plugin::Image>& images, int batch, Fn fn) {
  std::vector<Result> all;
  size_t step = batch > 0 ? static_cast<size_t>(batch) : images.size();
  for (size_t i = 0; i < images.size(); i += step) {
    std::vector<plugin::Image> part(images.begin() + i, images.begin() + std::min(images.size(), i + step));
    auto got = fn(part, i);
    if (got.size() != part.size())
      throw std::runtime_error("plugin returned " + std::to_string(got.size()) + " results for " +
                               std::to_string(part.size()) + " frames");
    for (auto& g : got) all.push_back(std::move(g));
  }
  return all;
}

Json Header(const plugin::Info& info, const PluginOptions& tool, const std::map<std::string, std::string>& opts) {
  Json h = Json::object();
  h["plugin"] = info.name;
  h["version"] = info.version;
  h["model"] = tool.model.empty() ? Json(nullptr) : Json(fs::absolute(tool.model).lexically_normal().string());
  Json o = Json::object();
  for (const auto& [k, v] : opts) o[k] = v;
  h["options"] = o;
  return h;
}

std::map<std::string, std::string> GivenOptions(const VisualOptions& v) {
  auto given = ParseOptionPairs(v.tool.plugin_opts);
  if (!v.conf.empty()) given["conf"] = v.conf;
  if (!v.iou.empty()) given["iou"] = v.iou;
  if (!v.classes.empty()) given["classes"] = v.classes;
  return given;
}

// Drawn from the written (rounded) values, as vs-policy draws them from a record, so the two write the
// same bytes under the same cache key.
void AddOverlays(Json& value, const VisualOptions& options, const Frames& frames, bool pose) {
  auto variants = options.OverlayList();
  if (variants.empty()) return;
  auto people = PeopleFrom(value, pose);
  Json o = Json::object();
  for (auto v : variants) o[OverlayName(v)] = WriteOverlays(frames.paths, &frames.mats, v, people, value["frames"]);
  value["overlays"] = o;
}

std::vector<std::vector<int>> MaybeTrack(bool track, const std::vector<std::vector<plugin::Box>>& boxes) {
  if (track) return TrackIds(boxes);
  std::vector<std::vector<int>> none(boxes.size());
  for (size_t f = 0; f < boxes.size(); ++f) none[f].assign(boxes[f].size(), 0);
  return none;
}

}  // namespace

Json BoxJson(const plugin::Box& b, int track_id) {
  Json j = Json::object();
  j["xyxy"] = {Round(b.x1, 100), Round(b.y1, 100), Round(b.x2, 100), Round(b.y2, 100)};
  j["score"] = Round(b.score, 1e4);
  j["class"] = b.cls;
  j["label"] = b.label;
  if (track_id > 0) j["id"] = track_id;
  return j;
}

Json PersonJson(const plugin::Person& p, int track_id) {
  Json j = BoxJson(p.box, track_id);
  Json k = Json::array();
  for (const auto& kp : p.keypoints) k.push_back({Round(kp.x, 100), Round(kp.y, 100), Round(kp.conf, 1e4)});
  j["keypoints"] = k;
  return j;
}

namespace {

plugin::Box BoxFrom(const Json& b) {
  const auto& xy = b.at("xyxy");
  plugin::Box box;
  box.x1 = xy.at(0).get<float>();
  box.y1 = xy.at(1).get<float>();
  box.x2 = xy.at(2).get<float>();
  box.y2 = xy.at(3).get<float>();
  box.score = b.value("score", 1.0f);
  box.cls = b.value("class", 0);
  box.label = b.value("label", std::string());
  return box;
}

}  // namespace

std::vector<std::vector<plugin::Person>> PeopleFrom(const Json& value, bool pose) {
  const char* key = pose ? "pose" : "detect";
  if (!value.is_object() || !value.contains("frames") || !value["frames"].is_array())
    throw std::runtime_error(std::string("`") + key + ".frames` is missing or not an array");
  std::vector<std::vector<plugin::Person>> out;
  for (const auto& f : value["frames"]) {
    std::vector<plugin::Person> people;
    for (const auto& p : f.at(pose ? "people" : "boxes")) {
      plugin::Person person;
      person.box = BoxFrom(p);
      if (pose)
        for (const auto& k : p.at("keypoints"))
          person.keypoints.push_back({k.at(0).get<float>(), k.at(1).get<float>(), k.at(2).get<float>()});
      people.push_back(std::move(person));
    }
    out.push_back(std::move(people));
  }
  return out;
}

std::vector<std::vector<plugin::Box>> BoxesFromDetect(const Json& detect) {
  std::vector<std::vector<plugin::Box>> out;
  for (const auto& people : PeopleFrom(detect, false)) {
    std::vector<plugin::Box> boxes;
    for (const auto& p : people) boxes.push_back(p.box);
    out.push_back(std::move(boxes));
  }
  return out;
}

std::vector<std::string> WriteOverlays(const std::vector<std::string>& paths, const std::vector<cv::Mat>* frames,
                                       Overlay variant, const std::vector<std::vector<plugin::Person>>& people,
                                       const Json& drawn) {
  std::string key = std::string("overlay-v1\n") + OverlayName(variant) + "\n" + io::Dump(drawn);
  for (const auto& p : paths) {
    std::error_code ec;
    auto size = fs::file_size(p, ec);
    auto mtime = fs::last_write_time(p, ec).time_since_epoch().count();
    key += "\n" + p + "\t" + std::to_string(size) + "\t" + std::to_string(mtime);
  }
  fs::path dir = io::CacheDir("overlay", key);
  fs::create_directories(dir);
  std::vector<std::string> out;
  for (size_t i = 0; i < paths.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "%06zu.png", i);
    fs::path file = dir / name;
    if (!fs::exists(file)) {
      cv::Mat canvas = frames ? (*frames)[i].clone() : cv::imread(paths[i], cv::IMREAD_COLOR);
      if (canvas.empty()) throw std::runtime_error("cannot read frame " + paths[i]);
      DrawOverlay(canvas, variant, people[i]);
      std::vector<uchar> png;
      if (!cv::imencode(".png", canvas, png)) throw std::runtime_error("cannot encode overlay " + file.string());
      io::WriteFileAtomic(file, std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
    }
    out.push_back(file.string());
  }
  return out;
}

namespace {

std::optional<std::vector<std::string>> ListedOverlay(const Json& value, const char* variant, size_t n) {
  if (!value.is_object() || !value.contains("overlays") || !value["overlays"].is_object()) return std::nullopt;
  const Json& o = value["overlays"];
  if (!o.contains(variant) || !o[variant].is_array() || o[variant].size() != n) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& p : o[variant]) {
    if (!p.is_string() || !fs::exists(p.get<std::string>())) return std::nullopt;
    out.push_back(p.get<std::string>());
  }
  return out;
}

}  // namespace

Json OverlayFrames(const io::Record& record, bool pose, bool detect, std::string* variant) {
  Json frames = record.get("frames");
  if (!frames.is_object() || !frames.contains("paths") || !frames["paths"].is_array())
    throw std::runtime_error("record has no frames.paths (run vs-decode first)");
  std::vector<std::string> paths;
  for (const auto& p : frames["paths"]) paths.push_back(p.get<std::string>());
  if (!pose && !detect) {
    *variant = "original";
    return frames;
  }
  // The authors' get_video_path: pose+detect -> boxes and skeletons ("pose"), pose -> skeletons ("po"),
  // detect -> boxes ("bound"). Pose people carry their own boxes, so pose+detect draws from `pose`.
  Overlay v = pose ? (detect ? Overlay::kPose : Overlay::kPo) : Overlay::kBound;
  const char* key = pose ? "pose" : "detect";
  Json value = record.get(key);
  *variant = OverlayName(v);
  std::vector<std::string> drawn;
  if (auto listed = ListedOverlay(value, OverlayName(v), paths.size())) {
    drawn = *listed;
  } else {
    auto people = PeopleFrom(value, pose);
    if (people.size() != paths.size())
      throw std::runtime_error(std::string("`") + key + "` has " + std::to_string(people.size()) +
                               " frames but `frames` has " + std::to_string(paths.size()));
    drawn = WriteOverlays(paths, nullptr, v, people, value["frames"]);
  }
  frames["paths"] = drawn;
  return frames;
}

// ---------------------------------------------------------------------------------------------

DetectStage::DetectStage(const VisualOptions& options, const std::string& device) : options_(options) {
  options_.OverlayList();  // validates early
  auto dirs = PluginDirs(options.plugin_path);
  auto given = GivenOptions(options);
  auto config = options.tool.ToConfig(plugin::Kind::kDetect, device);
  config.values = given;
  tool_ = LoadAs<plugin::Detector>(options.tool.plugin, dirs, config);
  info_ = tool_->info();
  header_ = Header(info_, options.tool, EffectiveOptions(info_, given));
}

DetectStage::~DetectStage() = default;

void DetectStage::Process(io::Record& record) {
  Frames frames = LoadFrames(record);
  std::vector<std::vector<plugin::Box>> boxes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    boxes = Chunked<std::vector<plugin::Box>>(frames.images, options_.batch,
                                              [&](const auto& part, size_t) { return tool_->Detect(part); });
  }
  auto ids = MaybeTrack(options_.track, boxes);
  Json value = header_;
  value["tracked"] = options_.track;
  Json out_frames = Json::array();
  for (size_t f = 0; f < boxes.size(); ++f) {
    Json list = Json::array();
    for (size_t i = 0; i < boxes[f].size(); ++i) list.push_back(BoxJson(boxes[f][i], ids[f][i]));
    out_frames.push_back({{"path", frames.paths[f]}, {"boxes", list}});
  }
  value["frames"] = out_frames;
  AddOverlays(value, options_, frames, false);
  record.set("detect", value);
}

// ---------------------------------------------------------------------------------------------

PoseStage::PoseStage(const PoseStageOptions& options, const std::string& device) : options_(options) {
  options_.visual.OverlayList();
  auto dirs = PluginDirs(options.visual.plugin_path);
  auto given = GivenOptions(options.visual);
  auto config = options.visual.tool.ToConfig(plugin::Kind::kPose, device);
  config.values = given;
  tool_ = LoadAs<plugin::PoseEstimator>(options.visual.tool.plugin, dirs, config);
  info_ = tool_->info();
  header_ = Header(info_, options.visual.tool, EffectiveOptions(info_, given));
  if (info_.top_down) {
    auto dconfig = options.detector.ToConfig(plugin::Kind::kDetect, device);
    detector_ = LoadAs<plugin::Detector>(options.detector.plugin, dirs, dconfig);
    auto dinfo = detector_->info();
    detector_header_ = Header(dinfo, options.detector, EffectiveOptions(dinfo, dconfig.values));
  }
}

PoseStage::~PoseStage() = default;

void PoseStage::Process(io::Record& record) {
  Frames frames = LoadFrames(record);
  Json value = header_;
  std::vector<std::vector<plugin::Person>> people;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (info_.top_down) {
      std::vector<std::vector<plugin::Box>> boxes;
      if (record.has("detect") && !options_.redetect) {
        boxes = BoxesFromDetect(record.get("detect"));
        if (boxes.size() != frames.images.size())
          throw std::runtime_error("`detect` has " + std::to_string(boxes.size()) + " frames but `frames` has " +
                                   std::to_string(frames.images.size()));
        value["detector"] = {{"source", "record"}};
      } else {
        boxes = Chunked<std::vector<plugin::Box>>(frames.images, options_.visual.batch,
                                                  [&](const auto& part, size_t) { return detector_->Detect(part); });
        value["detector"] = detector_header_;
      }
      // Top-down pose models are trained on people: other classes (--classes all upstream) are dropped.
      for (auto& list : boxes)
        std::erase_if(list, [](const plugin::Box& b) { return !b.label.empty() ? b.label != "person" : b.cls != 0; });
      people = Chunked<std::vector<plugin::Person>>(frames.images, options_.visual.batch, [&](const auto& part, size_t at) {
        std::vector<std::vector<plugin::Box>> sub(boxes.begin() + at, boxes.begin() + at + part.size());
        return tool_->Estimate(part, &sub);
      });
    } else {
      people = Chunked<std::vector<plugin::Person>>(frames.images, options_.visual.batch,
                                                    [&](const auto& part, size_t) { return tool_->Estimate(part, nullptr); });
    }
  }
  std::vector<std::vector<plugin::Box>> boxes(people.size());
  for (size_t f = 0; f < people.size(); ++f)
    for (const auto& p : people[f]) boxes[f].push_back(p.box);
  auto ids = MaybeTrack(options_.visual.track, boxes);
  value["tracked"] = options_.visual.track;
  Json out_frames = Json::array();
  for (size_t f = 0; f < people.size(); ++f) {
    Json list = Json::array();
    for (size_t i = 0; i < people[f].size(); ++i) list.push_back(PersonJson(people[f][i], ids[f][i]));
    out_frames.push_back({{"path", frames.paths[f]}, {"people", list}});
  }
  value["frames"] = out_frames;
  AddOverlays(value, options_.visual, frames, true);
  record.set("pose", value);
}

}  // namespace vstar::tools
