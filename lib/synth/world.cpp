#include "synth/world.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "io/cache.hpp"
#include "io/record.hpp"
#include "synth/render.hpp"
#include "video/encoder.hpp"

namespace vstar::synth {
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

double Round(double v, double unit) { return std::round(v * unit) / unit; }

std::pair<int, int> ParseSize(const std::string& text) {
  int w = 0, h = 0;
  char x = 0, extra = 0;
  if (std::sscanf(text.c_str(), "%d%c%d%c", &w, &x, &h, &extra) != 3 || (x != 'x' && x != 'X'))
    throw std::invalid_argument("--size must be WxH, got '" + text + "'");
  if (w < 32 || h < 32 || w > 4096 || h > 4096 || w % 2 || h % 2)
    throw std::invalid_argument("--size: width and height must be even, 32..4096");
  return {w, h};
}

std::vector<const ActionClass*> ChosenClasses(const std::vector<std::string>& names, const std::string& split) {
  if (split != "all" && split != "base" && split != "novel")
    throw std::invalid_argument("--split must be all, base or novel, not '" + split + "'");
  std::vector<const ActionClass*> out;
  for (const auto& c : Catalogue())
    if (names.empty() && (split == "all" || (split == "novel") == c.novel)) out.push_back(&c);
  for (const auto& n : names) {
    const ActionClass* c = FindClass(n);
    if (!c) {
      std::string known;
      for (const auto& k : Catalogue()) known += (known.empty() ? "" : ", ") + k.folder;
      throw std::invalid_argument("--classes: no class '" + n + "' (known: " + known + ")");
    }
    if (split != "all" && (split == "novel") != c->novel)
      throw std::invalid_argument("--classes: '" + n + "' is not a " + split + " class");
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  }
  // Catalogue order, whatever order --classes named them in: the files do not depend on it.
  std::sort(out.begin(), out.end());
  return out;
}

Json TimelineJson(const Timeline& tl, double seconds, int frames) {
  Json arr = Json::array();
  for (const auto& e : tl.entries) {
    const MoveInfo& info = Info(e.step.move);
    Json j;
    j["key"] = SubMotionKey(e.step.move);
    j["move"] = info.id;
    j["part"] = info.part;
    j["movement"] = info.movement;
    if (info.one_sided) j["side"] = SideName(e.side);
    j["start_s"] = Round(e.step.start * seconds, 1000);
    j["end_s"] = Round(e.step.end * seconds, 1000);
    j["start_frame"] = std::lround(e.step.start * (frames - 1));
    j["end_frame"] = std::lround(e.step.end * (frames - 1));
    if (info.periodic) j["cycles"] = Round(e.step.cycles, 100);
    arr.push_back(j);
  }
  return arr;
}

Json NuisanceJson(const Nuisance& n, Level level) {
  return {{"level", LevelName(level)},   {"yaw_deg", Round(n.yaw_deg, 100)},
          {"height_px", Round(n.height_px, 100)}, {"centre_x", Round(n.centre_x, 100)},
          {"ground_y", Round(n.ground_y, 100)},   {"speed", Round(n.speed, 1000)},
          {"shift", Round(n.shift, 1000)},        {"phase", Round(n.phase, 1000)},
          {"mirror", n.mirror},                   {"hue_shift", n.hue_shift},
          {"gain", Round(n.gain, 1000)},          {"clutter", n.clutter.size()},
          {"occluder", n.occluder},               {"jitter_px", n.jitter_px},
          {"noise_sigma", n.noise_sigma}};
}

std::string Lines(const std::vector<const ActionClass*>& classes, int novel) {
  std::string out;
  for (const auto* c : classes)
    if (novel < 0 || c->novel == (novel == 1)) out += c->name + "\n";
  return out;
}

// A record's own candidate list: its class and k-1 others drawn from the world's classes, shuffled
// (Fisher-Yates on the clip's seed), so a model trained on it sees the labels in changing company and
// order and has to read the list rather than memorise one.
Json ClipCandidates(const ActionClass& self, const std::vector<const ActionClass*>& classes,
                    int k_min, int k, uint64_t clip_seed) {
  Rng rng(MixSeed(clip_seed, 0xC4D1DA7E5ULL));
  if (k_min > 0 && k_min < k) k = rng.Int(k_min, k);
  std::vector<const ActionClass*> others;
  for (const ActionClass* c : classes)
    if (c != &self) others.push_back(c);
  for (size_t i = others.size(); i > 1; --i) std::swap(others[i - 1], others[static_cast<size_t>(rng.Int(0, static_cast<int>(i) - 1))]);
  others.resize(std::min(others.size(), static_cast<size_t>(k - 1)));
  others.push_back(&self);
  for (size_t i = others.size(); i > 1; --i) std::swap(others[i - 1], others[static_cast<size_t>(rng.Int(0, static_cast<int>(i) - 1))]);
  Json list = Json::array();
  for (const ActionClass* c : others) list.push_back(c->name);
  return list;
}

}  // namespace

void WorldOptions::Register(CLI::App& app) {
  app.add_option("--out", out, "Directory the world is written to (created)")->required();
  app.add_option("--per-class", per_class, "Clips per class")->capture_default_str();
  app.add_option("--seed", seed, "World seed: the same seed and options give byte-identical files")
      ->capture_default_str();
  app.add_option("--size", size, "Frame size WxH (even)")->capture_default_str();
  app.add_option("--fps", fps, "Frames per second")->capture_default_str();
  app.add_option("--seconds", seconds, "Clip length in seconds")->capture_default_str();
  app.add_option("--classes", classes, "Only these classes (names or folder names, comma-separated)")
      ->delimiter(',');
  app.add_option("--split", split, "Only the classes of this split: all, base (the classes to train on) or novel")
      ->check(CLI::IsMember({"all", "base", "novel"}))
      ->capture_default_str();
  app.add_option("--nuisance", nuisance, "Nuisance level: low, medium or high")
      ->check(CLI::IsMember({"low", "medium", "high"}))
      ->capture_default_str();
  app.add_option("--codec", codec, "FFmpeg video encoder")->capture_default_str();
  app.add_option("--qscale", qscale, "Encoder quantiser, 1 (best) to 31")->capture_default_str();
  app.add_option("--suit", suit, "Suit colours TSV (default: share/vstar/synth/suit.tsv)");
  app.add_option("--candidates-per-clip", candidates_per_clip,
                 "Give each record its own candidate list: its class and K-1 others of the world, in a seeded "
                 "random order (0: none; stages then take --candidates)")
      ->capture_default_str();
  app.add_option("--candidates-min", candidates_min,
                 "With --candidates-per-clip K: each list holds a seeded random number of labels "
                 "from this to K, "
                 "so a student sees lists of every length in between (0: always K)")
      ->capture_default_str();
}

WorldSummary Generate(const WorldOptions& opt, const std::function<void(size_t, size_t)>& progress) {
  auto [width, height] = ParseSize(opt.size);
  if (opt.per_class < 1) throw std::invalid_argument("--per-class must be at least 1");
  if (opt.fps < 1 || opt.fps > 120) throw std::invalid_argument("--fps must be 1..120");
  const int frames = static_cast<int>(std::lround(opt.seconds * opt.fps));
  if (frames < 2 || frames > 3000) throw std::invalid_argument("--seconds x --fps must give 2..3000 frames");
  if (opt.out.empty()) throw std::invalid_argument("--out is required");
  if (opt.candidates_per_clip < 0) throw std::invalid_argument("--candidates-per-clip must be 0 or more");
  if (opt.candidates_min < 0 ||
      (opt.candidates_min > 0 && opt.candidates_min > opt.candidates_per_clip))
    throw std::invalid_argument("--candidates-min must be 0, or 1 to --candidates-per-clip");
  const Level level = ParseLevel(opt.nuisance);
  const auto classes = ChosenClasses(opt.classes, opt.split);
  const auto suit = LoadSuit(opt.suit.empty() ? DefaultSuitFile() : fs::path(opt.suit));
  video::EncoderOptions enc;
  enc.codec = opt.codec;
  enc.fps = opt.fps;
  enc.qscale = opt.qscale;

  const fs::path out = opt.out;
  fs::create_directories(out / "videos");
  std::string manifest, truth_lines, folders;
  WorldSummary summary;
  summary.classes = classes.size();
  const size_t total = classes.size() * static_cast<size_t>(opt.per_class);
  for (const ActionClass* action : classes) {
    const uint64_t class_seed = MixSeed(opt.seed, static_cast<uint64_t>(action - Catalogue().data()));
    const std::string split = action->novel ? "novel" : "base";
    folders += action->folder + "\t" + action->name + "\n";
    fs::create_directories(out / "videos" / action->folder);
    for (int i = 0; i < opt.per_class; ++i) {
      char stem[256];
      std::snprintf(stem, sizeof stem, "%s_%03d", action->folder.c_str(), i);
      const std::string rel = action->folder + "/" + stem + ".mp4";
      const uint64_t clip_seed = MixSeed(class_seed, static_cast<uint64_t>(i));
      Rng rng(clip_seed);
      const Nuisance n = SampleNuisance(rng, level, width, height, frames);
      const Timeline tl = MakeTimeline(*action, n);
      Json keypoints = Json::array(), boxes = Json::array();
      {
        video::VideoEncoder writer(out / "videos" / rel, width, height, enc);
        for (int f = 0; f < frames; ++f) {
          FrameTruth ft;
          double t = static_cast<double>(f) / (frames - 1);
          writer.Write(RenderFrame(PoseAt(tl, t), n, suit, width, height, f, MixSeed(clip_seed, f + 1), &ft));
          Json kp = Json::array();
          for (const auto& k : ft.keypoints) kp.push_back({Round(k[0], 100), Round(k[1], 100), static_cast<int>(k[2])});
          keypoints.push_back(std::move(kp));
          boxes.push_back({Round(ft.box[0], 100), Round(ft.box[1], 100), Round(ft.box[2], 100), Round(ft.box[3], 100)});
        }
        writer.Close();
      }
      const std::string id = action->folder + "/" + stem;
      Json rec;
      rec["id"] = id;
      rec["video"] = "videos/" + rel;
      rec["label"] = action->name;
      rec["split"] = split;
      rec["path"] = rel;
      if (opt.candidates_per_clip > 0)
        rec["candidates"] = ClipCandidates(*action, classes, opt.candidates_min,
                                           opt.candidates_per_clip, clip_seed);
      manifest += io::Dump(rec) + "\n";
      Json truth;
      truth["id"] = id;
      truth["label"] = action->name;
      truth["split"] = split;
      truth["video"] = "videos/" + rel;
      truth["width"] = width;
      truth["height"] = height;
      truth["fps"] = opt.fps;
      truth["frames"] = frames;
      truth["seconds"] = static_cast<double>(frames) / opt.fps;
      truth["seed"] = clip_seed;
      truth["nuisance"] = NuisanceJson(n, level);
      truth["timeline"] = TimelineJson(tl, static_cast<double>(frames - 1) / opt.fps, frames);
      truth["keypoints"] = std::move(keypoints);
      truth["boxes"] = std::move(boxes);
      truth_lines += io::Dump(truth) + "\n";
      summary.frames += frames;
      ++summary.clips;
      if (progress) progress(summary.clips, total);
    }
  }
  std::string definitions =
      "# vs-synth class definitions in the local knowledge-base format (name TAB aliases TAB definition);\n"
      "# use with vs-explain --plugin local --plugin-opt kb=<this file>.\n";
  Json classes_json = Json::array();
  for (const auto* c : classes) {
    definitions += c->name + "\t" + c->folder + "\t" + c->definition + "\n";
    Json keys = Json::array();
    for (const auto& k : SubMotionKeys(*c)) keys.push_back(k);
    classes_json.push_back({{"name", c->name}, {"folder", c->folder}, {"split", c->novel ? "novel" : "base"},
                            {"definition", c->definition}, {"submotions", keys}});
  }
  io::WriteFileAtomic(out / "manifest.jsonl", manifest);
  io::WriteFileAtomic(out / "truth.jsonl", truth_lines);
  io::WriteFileAtomic(out / "classes.txt", Lines(classes, -1));
  io::WriteFileAtomic(out / "base.txt", Lines(classes, 0));
  io::WriteFileAtomic(out / "novel.txt", Lines(classes, 1));
  io::WriteFileAtomic(out / "folders.tsv", folders);
  io::WriteFileAtomic(out / "definitions.tsv", definitions);
  io::WriteFileAtomic(out / "submotions.json", classes_json.dump(1) + "\n");
  return summary;
}

}  // namespace vstar::synth
