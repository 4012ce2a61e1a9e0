// Smoke runs of every bench/*.sh at tiny sizes, so the benchmarks cannot rot: each must exit 0 and
// print its rows (bench/rows.py) with both sides measured. The numbers themselves are not checked:
// tiny sizes on a shared machine say nothing about speed (`make bench` is the measurement).
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include <nlohmann/json.hpp>

#include "support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Runs bench/<name>.sh with `env` and returns its rows.
std::vector<json> RunBench(const std::string& name, std::map<std::string, std::string> env) {
  env["VSTAR_BIN_DIR"] = vstar::test::BinDir().string();
  env["VSTAR_BUILD_DIR"] = vstar::test::BinaryDir().string();
  env["VSTAR_VENV"] = vstar::test::VenvPython().parent_path().parent_path().string();
  env["BENCH_WORK"] = vstar::test::TempDir("bench-" + name).string();
  auto r = vstar::test::Run(
      {"/bin/bash", (vstar::test::SourceDir() / "bench" / (name + ".sh")).string()}, "", env);
  INFO(r.err);
  REQUIRE(r.status == 0);
  // A script whose inputs are missing says SKIPPED and exits 0: the REQUIRE_* of the caller rule
  // that out.
  CHECK(r.err.find("SKIPPED") == std::string::npos);
  std::vector<json> rows;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("{\"bench\":", 0) == 0) rows.push_back(json::parse(line));
  for (const auto& row : rows) {
    INFO(row.dump());
    CHECK(row["bench"] == name);
    for (const char* key : {"vstar", "peer", "ratio"}) {
      const double v = row[key].get<double>();
      CHECK(std::isfinite(v));
      CHECK(v > 0);
    }
    CHECK(!row["peer_name"].get<std::string>().empty());
    CHECK((row["better"] == "higher" || row["better"] == "lower"));
  }
  return rows;
}

std::set<std::string> Names(const std::vector<json>& rows) {
  std::set<std::string> out;
  for (const auto& r : rows) out.insert(r["row"].get<std::string>());
  return out;
}

}  // namespace

TEST_CASE("bench pose.sh runs at 8 frames and prints its rows") {
  VSTAR_REQUIRE_SHARED("assets/videos/kinetics/clean_and_jerk.mp4");
  VSTAR_REQUIRE_VENV();
  VSTAR_REQUIRE_PROGRAM("ffmpeg");
  // Fewer frames and the difference of the two timed runs (1+N and 1 frames) drowns in start-up
  // noise.
  auto rows = RunBench("pose", {{"VSTAR_BENCH_FRAMES", "8"}});
  // batch 1 and 8, wall and CPU time, for fp32 and, where the CPU has native bf16, for bf16
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string flags((std::istreambuf_iterator<char>(cpuinfo)), std::istreambuf_iterator<char>());
  bool bf16 =
      flags.find("avx512_bf16") != std::string::npos || flags.find("amx_bf16") != std::string::npos;
  CHECK(rows.size() == (bf16 ? 8u : 4u));
}

TEST_CASE("bench decode.sh runs on 2 clips and prints its rows") {
  VSTAR_REQUIRE_SHARED("assets/videos");
  VSTAR_REQUIRE_VENV();
  VSTAR_REQUIRE_PROGRAM("ffmpeg");
  auto rows = RunBench("decode", {{"VSTAR_BENCH_CLIPS", "2"}});
  CHECK(rows.size() == 6);
  CHECK(Names(rows).count("defaults vs CLI png defaults, wall") == 1);
}

TEST_CASE("bench sft.sh runs 2 steps and prints its rows") {
  VSTAR_REQUIRE_VENV();
  auto rows = RunBench("sft", {{"BENCH_STEPS", "2"}});
  CHECK(rows.size() == 2);
}

TEST_CASE("bench grpo.sh runs with 2 new tokens and prints its rows") {
  VSTAR_REQUIRE_VENV();
  auto rows = RunBench("grpo", {{"BENCH_NEW_TOKENS", "2"}});
  CHECK(rows.size() == 2);
}

TEST_CASE("bench policy.sh runs a 1-layer model and prints its rows") {
  VSTAR_REQUIRE_SHARED("assets/qwen2.5-vl/vocab.json");
  VSTAR_REQUIRE_VENV();
  auto rows = RunBench("policy", {{"BENCH_LAYERS", "1"}, {"BENCH_NEW_TOKENS", "8"}});
  // fp32: prefill and decode against eager and sdpa, the bound; bf16: prefill and decode against
  // sdpa, the bound, the kernel against LibTorch's linear; bf16 decode at batch 4 and 8.
  CHECK(rows.size() == 11);
}

TEST_CASE("bench tokenizer.sh runs and prints its rows") {
  VSTAR_REQUIRE_SHARED("assets/qwen2.5-vl/vocab.json");
  VSTAR_REQUIRE_VENV();
  auto rows = RunBench("tokenizer", {});
  CHECK(rows.size() == 3);
}

TEST_CASE("bench rows.py prints one table and the rows as JSON") {
  VSTAR_REQUIRE_VENV();
  const auto dir = vstar::test::TempDir("bench-rows");
  const auto py = vstar::test::VenvPython().string();
  const auto rows_py = (vstar::test::SourceDir() / "bench" / "rows.py").string();
  auto a =
      vstar::test::Run({py, rows_py, "row", "x", "step", "s", "2", "peer", "3", "time", "1.3"});
  REQUIRE(a.status == 0);
  auto b =
      vstar::test::Run({py, rows_py, "row", "x", "memory", "MB", "50", "peer", "100", "lower"});
  REQUIRE(b.status == 0);
  const json ta = json::parse(a.out), tb = json::parse(b.out);
  CHECK(ta["ratio"].get<double>() == Approx(1.5));  // a time: peer / vstar
  CHECK(tb["ratio"].get<double>() == Approx(0.5));  // memory: vstar / peer, lower is better
  CHECK(tb["target"].is_null());
  vstar::test::WriteFile(dir / "x.out", "noise\n" + a.out + b.out);
  auto t = vstar::test::Run({py, rows_py, "table", (dir / "x.out").string()});
  REQUIRE(t.status == 0);
  CHECK(t.out.find("| 1.50x | >= 1.3x | yes") != std::string::npos);
  CHECK(t.out.find("| 0.50x | -") != std::string::npos);
  const std::string last = t.out.substr(t.out.rfind("\n[") + 1);
  CHECK(json::parse(last).size() == 2);
}
