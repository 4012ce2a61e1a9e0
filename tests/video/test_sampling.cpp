// Sampling and sizing rules against qwen-vl-utils (tests/fixtures/video/sampling.json, made by
// tools/golden/video_sampling.py) and qwen-vl-utils' own examples.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support.hpp"
#include "video/sampling.hpp"

using namespace vstar::video;

namespace {
const nlohmann::json& Golden() {
  static const nlohmann::json j =
      nlohmann::json::parse(vstar::test::ReadFile(vstar::test::FixtureDir() / "video" / "sampling.json"));
  return j;
}
const QwenConstants& SetNamed(const std::string& name) {
  return name == "upstream" ? kQwenUpstream : kQwenVideoStar;
}
}  // namespace

TEST_CASE("round half to even", "[video][sampling]") {
  CHECK(RoundHalfEven(0.5) == 0.0);
  CHECK(RoundHalfEven(1.5) == 2.0);
  CHECK(RoundHalfEven(2.5) == 2.0);
  CHECK(RoundHalfEven(3.5) == 4.0);
  CHECK(RoundHalfEven(-0.5) == 0.0);
  CHECK(RoundHalfEven(-1.5) == -2.0);
  CHECK(RoundHalfEven(2.4999999) == 2.0);
  CHECK(RoundHalfEven(2.5000001) == 3.0);
  CHECK(RoundByFactor(70, 28) == 56);   // 2.5 -> 2, the trap of std::round
  CHECK(RoundByFactor(42, 28) == 56);   // 1.5 -> 2
  CHECK(RoundByFactor(98, 28) == 112);  // 3.5 -> 4
}

TEST_CASE("Video-STAR frame counts from the issue and the official notes", "[video][sampling]") {
  CHECK(SmartNFrames(kQwenVideoStar, 90, 30) == 6);
  CHECK(SmartNFrames(kQwenVideoStar, 60, 30) == 4);
  CHECK(SmartNFrames(kQwenVideoStar, 240, 30) == 16);   // 8 s
  CHECK(SmartNFrames(kQwenVideoStar, 9000, 30) == 16);  // 300 s
  CHECK(SmartNFrames(kQwenVideoStar, 73, 30) == 4);     // odd total
  CHECK(SmartNFrames(kQwenVideoStar, 3, 30) == 2);      // max_frames floors to 2
  CHECK(SmartNFrames(kQwenUpstream, 300, 30) == 20);    // qwen-vl-utils smart_nframes example
  CHECK_THROWS_AS(SmartNFrames(kQwenVideoStar, 1, 30), SamplingError);  // < 2 frames
  CHECK_THROWS_AS(SmartNFrames(kQwenVideoStar, 0, 30), SamplingError);
  for (int64_t total = 240; total < 2000; total += 37) CHECK(SmartNFrames(kQwenVideoStar, total, 30) == 16);
}

TEST_CASE("smart_nframes equals qwen-vl-utils for both constant sets", "[video][sampling]") {
  const auto& rows = Golden()["nframes"];
  REQUIRE(rows.size() > 500);
  size_t errors = 0;
  for (const auto& row : rows) {
    const auto& c = SetNamed(row["set"]);
    const int64_t total = row["total"];
    const double fps = row["fps"];
    INFO(row.dump());
    if (row["n"].is_null()) {
      CHECK_THROWS_AS(SmartNFrames(c, total, fps), SamplingError);
      ++errors;
    } else {
      CHECK(SmartNFrames(c, total, fps) == row["n"].get<int64_t>());
    }
  }
  CHECK(errors > 0);  // the table covers the error cases too
}

TEST_CASE("linspace().round() indices equal torch's", "[video][sampling]") {
  const auto& rows = Golden()["linspace"];
  REQUIRE(rows.size() > 100);
  for (const auto& row : rows) {
    INFO(row["total"] << " frames, n=" << row["n"]);
    CHECK(LinspaceRound(row["total"], row["n"]) == row["indices"].get<std::vector<int64_t>>());
  }
}

TEST_CASE("smart_resize table and qwen-vl-utils clamping", "[video][sampling]") {
  const double mn = 3136, mx = 12845056;
  CHECK(SmartResize(480, 640, 28, mn, mx) == Size{476, 644});
  CHECK(SmartResize(1080, 1920, 28, mn, mx) == Size{1092, 1932});
  CHECK(SmartResize(70, 70, 28, mn, mx) == Size{56, 56});
  CHECK(SmartResize(42, 98, 28, mn, mx) == Size{56, 112});
  CHECK(SmartResize(4000, 3000, 28, mn, mx) == Size{4004, 2996});
  CHECK(SmartResize(224, 224, 28, mn, mx) == Size{224, 224});
  CHECK_THROWS_AS(SmartResize(1, 250, 28, mn, mx), SamplingError);  // aspect ratio > 200
  for (const auto& row : Golden()["smart_resize"]) {
    INFO(row.dump());
    if (row["out"].is_null()) {
      CHECK_THROWS_AS(SmartResize(row["h"], row["w"], 28, row["min"], row["max"]), SamplingError);
    } else {
      const Size s = SmartResize(row["h"], row["w"], 28, row["min"], row["max"]);
      CHECK(s.height == row["out"][0].get<int64_t>());
      CHECK(s.width == row["out"][1].get<int64_t>());
    }
  }
}

TEST_CASE("video frame sizes of the authors' sampler and fetch_video's budget", "[video][sampling]") {
  // Given there as W x H; Size is (height, width).
  CHECK(QwenVideoSize(kQwenVideoStar, 240, 320, 16) == Size{280, 392});
  CHECK(QwenVideoSize(kQwenVideoStar, 256, 340, 16) == Size{280, 392});
  CHECK(QwenVideoSize(kQwenVideoStar, 256, 456, 16) == Size{224, 420});
  CHECK(QwenVideoSize(kQwenVideoStar, 240, 427, 16) == Size{224, 420});
  CHECK(QwenVideoSize(kQwenVideoStar, 360, 640, 16) == Size{224, 420});
  CHECK(QwenVideoSize(kQwenVideoStar, 720, 1280, 16) == Size{224, 420});
  CHECK(VideoMaxPixels(kQwenVideoStar, 16) == 105369.0);
  CHECK(VideoMaxPixels(kQwenUpstream, 768) == 235200.0);
  for (const auto& row : Golden()["video_size"]) {
    INFO(row.dump());
    const auto& c = SetNamed(row["set"]);
    if (row["out"].is_null()) {
      CHECK_THROWS_AS(QwenVideoSize(c, row["h"], row["w"], row["n"]), SamplingError);
    } else {
      CHECK(VideoMaxPixels(c, row["n"]) == Approx(row["max_pixels"].get<double>()).epsilon(1e-15));
      const Size s = QwenVideoSize(c, row["h"], row["w"], row["n"]);
      CHECK(s.height == row["out"][0].get<int64_t>());
      CHECK(s.width == row["out"][1].get<int64_t>());
    }
  }
}

TEST_CASE("sample rule parsing", "[video][sampling]") {
  CHECK(ParseSampleSpec("qwen").ToString() == "qwen:videostar");
  CHECK(ParseSampleSpec("qwen:videostar").ToString() == "qwen:videostar");
  CHECK(ParseSampleSpec("qwen:upstream").ToString() == "qwen:upstream");
  CHECK(ParseSampleSpec("uniform:8").ToString() == "uniform:8");
  CHECK(ParseSampleSpec("fps:1.5").ToString() == "fps:1.5");
  CHECK(ParseSampleSpec("all").ToString() == "all");
  for (const char* bad : {"", "qwen:", "qwen:other", "uniform", "uniform:0", "uniform:x", "uniform:3.5", "fps:0",
                          "fps:-1", "fps:abc", "all:3", "random"})
    CHECK_THROWS_AS(ParseSampleSpec(bad), std::invalid_argument);
}

TEST_CASE("PlanSamples for uniform, fps (by timestamp) and all", "[video][sampling]") {
  ClipTiming clip;
  clip.total_frames = 10;
  clip.fps = 10;
  for (int i = 0; i < 10; ++i) clip.timestamps.push_back(i * 0.1);
  auto plan = PlanSamples(ParseSampleSpec("uniform:4"), clip);
  CHECK(plan.indices == std::vector<int64_t>{0, 3, 6, 9});
  CHECK(plan.sample_fps == Approx(4.0));
  CHECK_THROWS_AS(PlanSamples(ParseSampleSpec("uniform:11"), clip), SamplingError);
  CHECK(PlanSamples(ParseSampleSpec("all"), clip).indices.size() == 10);
  CHECK(PlanSamples(ParseSampleSpec("fps:5"), clip).indices == std::vector<int64_t>{0, 2, 4, 6, 8});
  // Variable frame rate: a long gap after frame 4; fps sampling follows time, not indices.
  ClipTiming vfr;
  vfr.total_frames = 8;
  vfr.fps = 8 / 1.7;
  vfr.timestamps = {0.0, 0.1, 0.2, 0.3, 0.4, 1.4, 1.5, 1.6};
  CHECK(PlanSamples(ParseSampleSpec("fps:2"), vfr).indices == std::vector<int64_t>{0, 4, 4, 6});
  // qwen: 90 frames at 30 fps -> 6 frames, sample_fps = 6/90*30 = 2.
  ClipTiming q;
  q.total_frames = 90;
  q.fps = 30;
  auto qp = PlanSamples(ParseSampleSpec("qwen"), q);
  CHECK(qp.indices == std::vector<int64_t>{0, 18, 36, 53, 71, 89});
  CHECK(qp.sample_fps == Approx(2.0));
  ClipTiming one;
  one.total_frames = 1;
  one.fps = 30;
  CHECK_THROWS_AS(PlanSamples(ParseSampleSpec("qwen"), one), SamplingError);
}
