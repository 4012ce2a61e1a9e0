// The miniature experiment (share/vstar/experiments/mini) on a reduced configuration: every stage
// of `make reproduce-mini` runs through the real binaries, the six ablation rows reach one table
// with every test clip scored, the pictures are written, and a stage rerun with the same seed gives
// the same numbers. What the full configuration learns is reported by running it, not asserted
// here: the reduced one trains for a handful of steps. The copy probe (`make copy-probe`) runs too.
#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "support.hpp"

namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

const char* kReduced =
    " TRAIN_PER_CLASS=2 TEST_PER_CLASS=1 SFT_EPOCHS=1 SFT_BATCH=2 GRPO_STEPS=1 GRPO_BATCH=1 "
    "GRPO_G=2"
    " MAX_NEW_TOKENS=40 THREADS=1 SEED=3";

vstar::test::RunResult Make(const fs::path& out, const std::string& targets) {
  const std::string cmd = "make --no-print-directory -C '" +
                          (vstar::test::SourceDir() / "share/vstar/experiments/mini").string() +
                          "' BIN='" + vstar::test::BinDir().string() + "' OUT='" + out.string() +
                          "'" + kReduced + " " + targets;
  return vstar::test::Run({"/bin/sh", "-c", cmd});
}

std::vector<double> Losses(const fs::path& metrics) {
  std::vector<double> out;
  for (const auto& line : vstar::test::Lines(vstar::test::ReadFile(metrics)))
    out.push_back(Json::parse(line)["loss"]);
  return out;
}

}  // namespace

TEST_CASE(
    "experiment: make reproduce-mini runs every ablation end to end and reproduces with its seed",
    "[pipeline][experiment]") {
  VSTAR_REQUIRE_PROGRAM("make");
  const fs::path out = vstar::test::TempDir("experiment") / "run";
  auto r = Make(out, "reproduce-mini");
  INFO(r.err.substr(r.err.size() > 6000 ? r.err.size() - 6000 : 0));
  REQUIRE(r.status == 0);
  // stdout is the ablation table; every row is there.
  for (const char* row : {"full", "no-tools", "no-submotions", "sft-only", "rl-only", "acc-format"})
    CHECK(r.out.find("| " + std::string(row) + " | strict |") != std::string::npos);
  const Json table = Json::parse(vstar::test::ReadFile(out / "ablations.json"));
  REQUIRE(table["runs"].size() == 6);
  for (const auto& run : table["runs"]) {
    INFO(run["name"]);
    REQUIRE(run["files"].size() == 2);
    CHECK(run["files"][0]["group"] == "base");
    CHECK(run["files"][0]["total"] == 11);  // one clip of each base class
    CHECK(run["files"][1]["group"] == "novel");
    CHECK(run["files"][1]["total"] == 6);
    CHECK(run["files"][0]["failed"] == 0);
    CHECK(run["summary"]["strict"].contains("hm"));
  }
  for (const char* png : {"ablations.png", "tool-rate.png"}) {
    INFO(png);
    CHECK(fs::file_size(out / png) > 1000);
  }
  // The ablations differ in what they are made of: no tool output reaches the no-tools student, the
  // no-submotions chains are answers alone, and the RL-only run starts from the initial weights.
  const auto chain =
      Json::parse(vstar::test::Lines(vstar::test::ReadFile(out / "chains-no-submotions.jsonl"))[0]);
  const std::string answer = chain["messages"][4]["content"][0]["text"];
  CHECK(answer.rfind("<answer>", 0) == 0);
  const auto no_tools =
      Json::parse(vstar::test::Lines(vstar::test::ReadFile(out / "no-tools/pred-base.jsonl"))[0]);
  CHECK_FALSE(no_tools["policy"]["tools"].value("describe", Json::object()).value("used", false));
  CHECK(no_tools["policy"]["tools_mode"] == "none");
  // A rerun reuses what is finished: nothing is remade.
  auto again = Make(out, "reproduce-mini");
  REQUIRE(again.status == 0);
  CHECK(again.out.find("vs-sft --model") ==
        std::string::npos);  // make echoes the recipes it runs on stdout
  CHECK(again.out.find("vs-grpo --model") == std::string::npos);
  // The same seed in another directory: the same chains and the same SFT losses, bit for bit.
  const fs::path twin = vstar::test::TempDir("experiment-twin") / "run";
  auto t = Make(twin, twin.string() + "/sft-full/config.json");
  INFO(t.err.substr(t.err.size() > 4000 ? t.err.size() - 4000 : 0));
  REQUIRE(t.status == 0);
  CHECK(Losses(twin / "sft-full.metrics.jsonl") == Losses(out / "sft-full.metrics.jsonl"));
}

TEST_CASE(
    "experiment: make copy-probe trains the student to repeat made-up words and prints its loss",
    "[pipeline][experiment]") {
  VSTAR_REQUIRE_PROGRAM("make");
  VSTAR_REQUIRE_PROGRAM("python3");
  const fs::path out = vstar::test::TempDir("copy-probe") / "run";
  auto r = Make(out, "PROBE_STEPS=6 PROBE_BATCH=2 copy-probe");
  INFO(r.err.substr(r.err.size() > 4000 ? r.err.size() - 4000 : 0));
  REQUIRE(r.status == 0);
  CHECK(r.out.find("| steps | mean loss on the assistant tokens |") != std::string::npos);
  CHECK(r.out.find("| 1-6 | ") != std::string::npos);
  // The corpus: steps x batch conversations, each answer the three words after "Repeat: ".
  const auto corpus = vstar::test::Lines(vstar::test::ReadFile(out / "copy-probe/corpus.jsonl"));
  REQUIRE(corpus.size() == 12);
  for (const auto& line : corpus) {
    const Json rec = Json::parse(line);
    const std::string user = rec["messages"][1]["content"], answer = rec["messages"][2]["content"];
    CHECK(user == "Repeat: " + answer);
    CHECK(std::count(answer.begin(), answer.end(), ' ') == 2);
  }
  CHECK(Losses(out / "copy-probe/sft.metrics.jsonl").size() == 6);
}
