// One overlay writer and one cache key: the overlays vs-detect writes are the files vs-policy's turn 2
// shows when it draws them itself from the record's `detect` key.
#include <fstream>

#include <nlohmann/json.hpp>

#include "io/record.hpp"
#include "support.hpp"
#include "tools/stage.hpp"

using namespace vstar;
using Json = nlohmann::ordered_json;

TEST_CASE("overlays: vs-detect's files are the ones the policy's turn 2 reuses or redraws") {
  auto dir = test::TempDir("overlay-frames");
  Json paths = Json::array();
  for (int f = 0; f < 2; ++f) {
    auto p = dir / ("f" + std::to_string(f) + ".ppm");
    std::ofstream o(p, std::ios::binary);
    o << "P6\n96 80\n255\n";
    for (int i = 0; i < 96 * 80; ++i) o << static_cast<char>(20 + f) << static_cast<char>(30) << static_cast<char>(40);
    paths.push_back(p.string());
  }
  // Boxes as vs-detect writes them; the stage's own overlay writer draws them.
  Json frames = Json::array();
  for (const auto& p : paths)
    frames.push_back({{"path", p}, {"boxes", {{{"xyxy", {10, 12, 50, 70}}, {"score", 0.9}, {"class", 0}, {"label", "person"}}}}});
  auto people = tools::PeopleFrom({{"frames", frames}}, false);
  REQUIRE(people.size() == 2);
  CHECK(people[1][0].box.x2 == 50);
  CHECK(people[1][0].keypoints.empty());
  std::vector<std::string> files;
  for (const auto& p : paths) files.push_back(p.get<std::string>());
  auto written = tools::WriteOverlays(files, nullptr, tools::Overlay::kBound, people, frames);
  REQUIRE(written.size() == 2);

  // A record whose `detect` key lists no overlays: turn 2 draws them under the same key, so it gets
  // the same files.
  io::Record rec(Json{{"frames", {{"paths", paths}, {"sample_fps", 2.0}}}, {"detect", {{"frames", frames}}}}.dump(), "t", 1);
  std::string variant;
  Json shown = tools::OverlayFrames(rec, false, true, &variant);
  CHECK(variant == "bound");
  CHECK(shown["paths"] == Json(written));
  CHECK(shown["sample_fps"] == 2.0);
  // Neither tool delivered: the original frames.
  CHECK(tools::OverlayFrames(rec, false, false, &variant)["paths"] == paths);
  CHECK(variant == "original");
}
