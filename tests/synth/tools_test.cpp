// The synthetic world's tools, measured against the generator's ground truth (truth.jsonl), which
// the tools themselves never read: the suit pose estimator's PCK, the suit detector's boxes, and the
// motion describer on rendered clips and on keypoints handed over as vs-pose output.
#include <cmath>
#include <iostream>
#include <map>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support.hpp"

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;
using vstar::test::Run;

namespace {

std::vector<Json> Parse(const std::string& text) {
  std::vector<Json> out;
  for (const auto& line : vstar::test::Lines(text)) out.push_back(Json::parse(line));
  return out;
}

// A rendered world decoded into frames (every frame, source size): records in manifest order.
struct Decoded {
  std::vector<Json> truth;
  std::string records;
};

Decoded RenderAndDecode(const std::string& tag, const std::vector<std::string>& extra) {
  fs::path w = vstar::test::TempDir(tag) / "world";
  std::vector<std::string> argv = {"vs-synth", "--out", w.string(), "--seed", "11", "--progress", "never"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto s = Run(argv);
  INFO(s.err);
  REQUIRE(s.status == 0);
  auto d = Run({"vs-decode", "--root", w.string(), "--sample", "all", "--resize", "none", "--progress", "never", "-i",
                (w / "manifest.jsonl").string()});
  INFO(d.err);
  REQUIRE(d.status == 0);
  return {Parse(vstar::test::ReadFile(w / "truth.jsonl")), d.out};
}

}  // namespace

TEST_CASE("suit pose: PCK against the generator's keypoints on a medium-nuisance world", "[synth][suit]") {
  VSTAR_REQUIRE_BINARY("vs-synth");
  VSTAR_REQUIRE_BINARY("vs-decode");
  VSTAR_REQUIRE_BINARY("vs-pose");
  auto world = RenderAndDecode("suit-pck", {"--per-class", "1", "--seconds", "2"});
  auto r = Run({"vs-pose", "--plugin", "suit", "--progress", "never"}, world.records);
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto posed = Parse(r.out);
  REQUIRE(posed.size() == world.truth.size());
  // PCK@0.1: a keypoint is correct within a tenth of the standing figure's height (about a third of
  // the torso's length), over the keypoints the generator marks visible.
  std::array<int, 17> hit{}, total{};
  for (size_t i = 0; i < posed.size(); ++i) {
    const Json& truth = world.truth[i];
    REQUIRE(posed[i]["id"] == truth["id"]);
    const double threshold = 0.1 * truth["nuisance"]["height_px"].get<double>();
    const auto& frames = posed[i]["pose"]["frames"];
    const auto& indices = posed[i]["frames"]["indices"];
    for (size_t f = 0; f < frames.size(); ++f) {
      const auto& gt = truth["keypoints"][indices[f].get<size_t>()];
      const auto& people = frames[f]["people"];
      for (size_t k = 0; k < 17; ++k) {
        if (gt[k][2] != 2) continue;
        ++total[k];
        if (people.empty()) continue;
        const auto& kp = people[0]["keypoints"][k];
        double d = std::hypot(kp[0].get<double>() - gt[k][0].get<double>(), kp[1].get<double>() - gt[k][1].get<double>());
        hit[k] += d <= threshold;
      }
    }
  }
  int hits = 0, all = 0;
  std::string per_joint;
  for (size_t k = 0; k < 17; ++k) {
    hits += hit[k], all += total[k];
    REQUIRE(total[k] > 0);
    double pck = double(hit[k]) / total[k];
    per_joint += " " + std::to_string(k) + ":" + std::to_string(pck).substr(0, 4);
    INFO("keypoint " << k << " PCK " << pck);
    CHECK(pck >= 0.65);
  }
  double pck = double(hits) / all;
  std::cerr << "suit PCK@0.1 over " << all << " visible keypoints: " << pck << " (per keypoint" << per_joint << ")\n";
  CHECK(pck >= 0.88);
}

TEST_CASE("suit detect: one box per frame that overlaps the figure's true extent", "[synth][suit]") {
  VSTAR_REQUIRE_BINARY("vs-synth");
  VSTAR_REQUIRE_BINARY("vs-decode");
  VSTAR_REQUIRE_BINARY("vs-detect");
  auto world = RenderAndDecode("suit-detect", {"--per-class", "1", "--seconds", "1", "--classes",
                                               "wave,kick,squat,cheer,bow"});
  auto r = Run({"vs-detect", "--plugin", "suit", "--progress", "never"}, world.records);
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto detected = Parse(r.out);
  size_t good = 0, frames = 0;
  for (size_t i = 0; i < detected.size(); ++i) {
    const auto& per_frame = detected[i]["detect"]["frames"];
    const auto& indices = detected[i]["frames"]["indices"];
    for (size_t f = 0; f < per_frame.size(); ++f) {
      ++frames;
      const auto& boxes = per_frame[f]["boxes"];
      if (boxes.size() != 1) continue;
      const auto& b = boxes[0]["xyxy"];
      const auto& t = world.truth[i]["boxes"][indices[f].get<size_t>()];
      double ix = std::max(0.0, std::min(b[2].get<double>(), t[2].get<double>()) - std::max(b[0].get<double>(), t[0].get<double>()));
      double iy = std::max(0.0, std::min(b[3].get<double>(), t[3].get<double>()) - std::max(b[1].get<double>(), t[1].get<double>()));
      double area_b = (b[2].get<double>() - b[0].get<double>()) * (b[3].get<double>() - b[1].get<double>());
      double area_t = (t[2].get<double>() - t[0].get<double>()) * (t[3].get<double>() - t[1].get<double>());
      good += ix * iy / (area_b + area_t - ix * iy) >= 0.6;
    }
  }
  INFO(good << " of " << frames << " frames with IoU >= 0.6");
  CHECK(frames > 0);
  CHECK(good >= 0.9 * frames);
}

TEST_CASE("motion describe: keypoints from a vs-pose file become sub-motion text", "[synth][motion]") {
  VSTAR_REQUIRE_BINARY("vs-explain");
  // A person facing the camera: left wrist raised above the shoulder and swaying 3 times, the rest
  // still, as a pose plugin (yolo, topdown) would report it.
  const double kPi = 3.14159265358979;
  Json frames = Json::array();
  for (int f = 0; f < 36; ++f) {
    double sway = std::sin(2 * kPi * 3 * f / 36.0);
    std::vector<std::array<double, 2>> kp = {{100, 40}, {103, 37}, {97, 37}, {106, 40}, {94, 40},
                                             {115, 60}, {85, 60},  {135, 58}, {75, 80},  {135 + 12 * sway, 36},
                                             {75, 100}, {108, 100}, {92, 100}, {108, 130}, {92, 130},
                                             {108, 160}, {92, 160}};
    Json people = Json::array();
    Json points = Json::array();
    for (auto& p : kp) points.push_back({p[0], p[1], 0.9});
    people.push_back({{"xyxy", {70, 30, 140, 165}}, {"score", 0.9}, {"class", 0}, {"label", "person"}, {"id", 1},
                      {"keypoints", points}});
    frames.push_back({{"path", "f" + std::to_string(f) + ".png"}, {"people", people}});
  }
  fs::path dir = vstar::test::TempDir("motion-file");
  Json rec = {{"id", "clip-1"}, {"video", "clip-1.mp4"}, {"pose", {{"frames", frames}}}};
  vstar::test::WriteFile(dir / "posed.jsonl", rec.dump() + "\n");
  Json query = {{"id", "clip-1"}, {"video", "clip-1.mp4"}};
  auto r = Run({"vs-explain", "--what", "video", "--plugin", "motion", "--plugin-opt",
                "poses=" + (dir / "posed.jsonl").string(), "--video-key", "id"},
               query.dump() + "\n");
  INFO(r.err);
  REQUIRE(r.status == 0);
  Json out = Json::parse(vstar::test::Lines(r.out).at(0));
  INFO(out.dump());
  CHECK(out["explain"]["video_found"] == true);
  CHECK(out["explain"]["video_source"] == "motion:file");
  CHECK(out["explain"]["video"] == "left arm: raised, oscillates side to side, 3 cycles; right arm: still; legs: still");
  // A video the file does not have: honestly no description.
  auto none = Run({"vs-explain", "--what", "video", "--plugin", "motion", "--plugin-opt",
                   "poses=" + (dir / "posed.jsonl").string(), "--video-key", "id"},
                  Json{{"id", "other"}}.dump() + "\n");
  REQUIRE(none.status == 0);
  CHECK(Json::parse(vstar::test::Lines(none.out).at(0))["explain"]["video_found"] == false);
}

TEST_CASE("motion describe: the suit estimator's keypoints on rendered clips", "[synth][motion]") {
  VSTAR_REQUIRE_BINARY("vs-synth");
  VSTAR_REQUIRE_BINARY("vs-decode");
  VSTAR_REQUIRE_BINARY("vs-explain");
  auto world = RenderAndDecode("motion-suit", {"--per-class", "2", "--nuisance", "low", "--classes",
                                               "wave,jumping_jack,sit_down,stand_up,overhead_squat"});
  auto r = Run({"vs-explain", "--what", "video", "--plugin", "motion", "--num-frames", "30", "--progress", "never"},
               world.records);
  INFO(r.err);
  REQUIRE(r.status == 0);
  const std::map<std::string, std::vector<std::string>> expected = {
      {"Wave", {"raised, oscillates side to side", "legs: still"}},
      {"Jumping jack", {"feet jump apart and together", "body: hops"}},
      {"Sit down", {"knees bend, the body lowers"}},
      {"Stand up", {"knees straighten, the body rises"}},
      {"Overhead squat", {"arms: raised", "knees bend and straighten, 2 times"}}};
  for (const auto& rec : Parse(r.out)) {
    std::string text = rec["explain"]["video"].get<std::string>();
    INFO(rec["label"] << ": " << text);
    for (const auto& phrase : expected.at(rec["label"].get<std::string>())) CHECK(text.find(phrase) != std::string::npos);
  }
}
