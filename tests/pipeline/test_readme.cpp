// README.md's headline pipeline, run verbatim: its code block is copied out of the README and handed to
// bash in a directory where `DIR` is the tiny random Qwen2.5-VL checkpoint of tools/golden/qwen_tiny.py
// and `yolo11n-pose.torchscript` the tiny YOLO11 pose export of tools/golden/yolo_goldens.py, with
// `manifest.jsonl` over clips made here with ffmpeg and a `classes.txt`. The tiny model answers at
// random, so this checks that the commands as written run and that every record reaches the report.
#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "support.hpp"

namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

// The first fenced code block of README.md that contains `marker`.
std::string ReadmeBlock(const std::string& marker) {
  const std::string readme = vstar::test::ReadFile(vstar::test::SourceDir() / "README.md");
  for (size_t open = readme.find("```\n"); open != std::string::npos;) {
    const size_t body = open + 4, close = readme.find("```", body);
    if (close == std::string::npos) break;
    std::string block = readme.substr(body, close - body);
    if (block.find(marker) != std::string::npos) return block;
    open = readme.find("```\n", close + 3);
  }
  return {};
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

TEST_CASE("README: the headline pipeline runs as written", "[pipeline][readme]") {
  VSTAR_REQUIRE_PROGRAM("ffmpeg");
  const std::string block = ReadmeBlock("vs-decode -i manifest.jsonl |");
  INFO("README.md block:\n" << block);
  REQUIRE_FALSE(block.empty());
  CHECK(block.find("vs-policy --model DIR") != std::string::npos);
  CHECK(block.find("vs-pose --model yolo11n-pose.torchscript") != std::string::npos);

  const fs::path dir = vstar::test::TempDir("readme");
  fs::create_directory_symlink(vstar::test::FixtureDir() / "model/tiny/model", dir / "DIR");
  fs::create_symlink(vstar::test::FixtureDir() / "tools/vstar-tiny-yolo11-pose.torchscript",
                     dir / "yolo11n-pose.torchscript");
  vstar::test::WriteFile(dir / "classes.txt", "wave\ncartwheel\nbrush_hair\n");
  std::string manifest;
  const std::pair<const char*, const char*> clips[] = {{"a", "wave"}, {"b", "cartwheel"}};
  for (const auto& [id, label] : clips) {
    const fs::path clip = dir / (std::string(id) + ".mp4");
    auto enc = vstar::test::Run({"/bin/sh", "-c",
                                 "ffmpeg -nostdin -v error -f lavfi -i testsrc2=size=160x120:rate=25:duration=2 "
                                 "-c:v mpeg4 -q:v 3 " +
                                     Quote(clip.string())});
    INFO(enc.err);
    REQUIRE(enc.status == 0);
    manifest += Json{{"id", id}, {"video", clip.string()}, {"label", label}}.dump() + "\n";
  }
  vstar::test::WriteFile(dir / "manifest.jsonl", manifest);

  const std::string path = vstar::test::BinDir().string() + ":" + (std::getenv("PATH") ? std::getenv("PATH") : "");
  auto r = vstar::test::Run({"/bin/bash", "-c", "set -euo pipefail; cd " + Quote(dir.string()) + "\n" + block},
                            "", {{"PATH", path}, {"VSTAR_CACHE", (dir / "cache").string()}});
  INFO("stderr:\n" << r.err);
  REQUIRE(r.status == 0);
  // vs-eval's markdown report: both records scored, with the strict metric over classes.txt.
  CHECK(r.out.find("| <stdin> | file | 2 |") != std::string::npos);
  for (const char* stage : {"vs-decode", "vs-detect", "vs-pose", "vs-policy", "vs-reward"})
    CHECK(r.err.find(std::string(stage) + ": done 2 records, 0 with errors") != std::string::npos);
  CHECK(r.err.find("vs-explain: done 3 records, 0 with errors") != std::string::npos);
  const auto candidates = vstar::test::Lines(vstar::test::ReadFile(dir / "candidates.jsonl"));
  REQUIRE(candidates.size() == 3);
  CHECK(Json::parse(candidates[0])["explain"]["found"] == true);
}
