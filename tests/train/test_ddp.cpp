// Data-parallel training over c10d's Gloo on loopback: two vs-sft (vs-grpo) processes of --batch B
// take the steps one process of --batch 2B takes (loss curve and final weights), a run resumes on
// another number of ranks from rank 0's checkpoint, a rank killed mid-run makes the other exit 1
// with an error that says so, the launch recipes start working ranks, and --dry-run's memory plan
// is computed from the config's shapes.
//
// Tolerance: the two runs compute the same sums in another order (each rank sums its own
// micro-batch's gradients, then the all-reduce adds the ranks'; one process adds them in one
// backward), so they agree to fp32 rounding, not bit for bit: losses within 1e-5 relative, weights
// within 1e-5 relative (||a - b|| / ||b|| per tensor) after a few AdamW steps.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "model/config.hpp"
#include "model/safetensors.hpp"
#include "train/memory_plan.hpp"
#include "train_fixture.hpp"

extern char** environ;

using namespace vstar;
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

constexpr double kTolerance = 1e-5;

// A TCP port the kernel had free a moment ago (bound to port 0, then released).
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

// One rank: a binary of build/bin with torchrun's variables set, stdout/stderr to files.
struct Rank {
  pid_t pid = -1;
  fs::path out, err;
};

Rank SpawnRank(std::vector<std::string> argv, int rank, int world, int port, const fs::path& dir) {
  argv[0] = (test::BinDir() / argv[0]).string();
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    bool ours = false;
    for (const char* k :
         {"RANK=", "WORLD_SIZE=", "LOCAL_RANK=", "MASTER_ADDR=", "MASTER_PORT=", "TORCHELASTIC_"})
      ours = ours || kv.rfind(k, 0) == 0;
    if (!ours) env.push_back(kv);
  }
  env.push_back("RANK=" + std::to_string(rank));
  env.push_back("LOCAL_RANK=" + std::to_string(rank));
  env.push_back("WORLD_SIZE=" + std::to_string(world));
  env.push_back("MASTER_ADDR=127.0.0.1");
  env.push_back("MASTER_PORT=" + std::to_string(port));
  env.push_back("GLOO_SOCKET_IFNAME=lo");
  std::vector<char*> cargv, cenv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  Rank r;
  r.out = dir / ("rank" + std::to_string(rank) + ".out");
  r.err = dir / ("rank" + std::to_string(rank) + ".err");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, r.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, r.err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int rc = posix_spawn(&r.pid, cargv[0], &fa, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  REQUIRE(rc == 0);
  return r;
}

// Waits for `pid` at most `seconds`; -1 when it is still running then (it is killed), else its exit
// status (128 + signal when killed by one).
int WaitFor(pid_t pid, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    int st = 0;
    const pid_t w = ::waitpid(pid, &st, WNOHANG);
    if (w == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return -1;
}

// Runs `argv` as one process (no launcher variables); it must exit 0.
void RunOne(const std::vector<std::string>& argv) {
  const auto r = test::Run(argv);
  INFO(r.err);
  REQUIRE(r.status == 0);
}

// Runs `argv` as `world` ranks on loopback; every rank must exit 0 within the time limit.
void RunRanks(const std::vector<std::string>& argv, int world, const fs::path& dir) {
  const int port = FreePort();
  std::vector<Rank> ranks;
  for (int r = 0; r < world; ++r) ranks.push_back(SpawnRank(argv, r, world, port, dir));
  for (int r = 0; r < world; ++r) {
    const int status = WaitFor(ranks[static_cast<size_t>(r)].pid, 600);
    INFO("rank " << r << " stderr:\n" << test::ReadFile(ranks[static_cast<size_t>(r)].err));
    REQUIRE(status == 0);
  }
  // Rank 0 alone writes records; the others stay quiet on stdout.
  for (int r = 1; r < world; ++r) CHECK(test::ReadFile(ranks[static_cast<size_t>(r)].out).empty());
}

std::vector<Json> MetricLines(const fs::path& file) {
  std::vector<Json> out;
  for (const auto& l : test::Lines(test::ReadFile(file)))
    if (!l.empty()) out.push_back(Json::parse(l));
  return out;
}

void CheckSameWeights(const fs::path& a, const fs::path& b) {
  const auto ca = model::Checkpoint::Open(a), cb = model::Checkpoint::Open(b);
  REQUIRE(ca.Names() == cb.Names());
  double worst = 0;
  std::string worst_name;
  for (const auto& n : ca.Names()) {
    const double e = test::RelErr(ca.Get(n), cb.Get(n));
    if (e > worst) {
      worst = e;
      worst_name = n;
    }
  }
  INFO("largest relative difference " << worst << " in " << worst_name);
  CHECK(worst <= kTolerance);
}

void CheckSameCurve(const std::vector<Json>& a, const std::vector<Json>& b,
                    const std::vector<std::string>& keys) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i)
    for (const auto& k : keys) {
      INFO("step " << i + 1 << " " << k << ": " << a[i][k] << " vs " << b[i][k]);
      const double x = a[i][k].get<double>(), y = b[i][k].get<double>();
      CHECK(std::abs(x - y) <= kTolerance * std::max(1.0, std::abs(y)));
    }
}

std::vector<std::string> SftArgs(const fs::path& out, const fs::path& records, int batch,
                                 std::vector<std::string> extra) {
  std::vector<std::string> v = {
      "vs-sft",
      "--model",
      test::TinyModelDir().string(),
      "--output",
      out.string(),
      "-i",
      records.string(),
      "--video-max-pixels",
      std::to_string(test::kTinyVideoPixels),
      "--log-level",
      "warn",
      "--batch",
      std::to_string(batch),
      "--grad-accum",
      "2",
      "--lr",
      "1e-3",
      "--seed",
      "5",
      "--metrics",
      (out.parent_path() / (out.filename().string() + ".metrics")).string()};
  v.insert(v.end(), extra.begin(), extra.end());
  return v;
}

}  // namespace

TEST_CASE("ddp: two Gloo ranks of vs-sft --batch 1 take the steps of one process with --batch 2",
          "[train][ddp]") {
  VSTAR_REQUIRE_BINARY("vs-sft");
  // Three conversations: with a global micro-batch of 2 the second of each epoch is partial, so
  // rank 1 has nothing to train in it and still takes part in the step.
  const fs::path records = test::WriteRecords(test::TempDir("ddp-sft")),
                 dir = records.parent_path();
  RunOne(SftArgs(dir / "one", records, 2, {"--max-steps", "3"}));
  RunRanks(SftArgs(dir / "two", records, 1, {"--max-steps", "3", "--dist-timeout", "60"}), 2, dir);
  const auto m1 = MetricLines(dir / "one.metrics"), m2 = MetricLines(dir / "two.metrics");
  REQUIRE(m1.size() == 3);
  CheckSameCurve(m2, m1, {"loss", "grad_norm", "lr"});
  for (size_t i = 0; i < m1.size(); ++i) {
    CHECK(m2[i]["trained_tokens"] == m1[i]["trained_tokens"]);  // counted over both ranks
    CHECK(m2[i]["tokens"] == m1[i]["tokens"]);
  }
  CHECK(m1.back()["loss"].get<double>() < m1.front()["loss"].get<double>());  // it trains
  CheckSameWeights(dir / "two", dir / "one");
}

TEST_CASE("ddp: one process resumes a two-rank vs-sft run from rank 0's checkpoint",
          "[train][ddp]") {
  VSTAR_REQUIRE_BINARY("vs-sft");
  const fs::path dir = test::TempDir("ddp-sft-resume");
  const fs::path records = test::WriteRecords(dir);
  const fs::path whole = dir / "whole", split = dir / "split";
  RunOne(SftArgs(whole, records, 2, {"--max-steps", "3"}));
  // Two ranks write checkpoint-1 (and go on); the run is then taken back to it and finished by one
  // process with the same global micro-batch (2 x 1 = 1 x 2).
  RunRanks(
      SftArgs(split, records, 1, {"--max-steps", "3", "--save-steps", "1", "--dist-timeout", "60"}),
      2, dir);
  for (const char* p : {"checkpoint-2", "checkpoint-3", "model.safetensors", "config.json"})
    fs::remove_all(split / p);
  RunOne(SftArgs(split, records, 2, {"--max-steps", "3", "--resume"}));
  CheckSameWeights(split, whole);
}

TEST_CASE("ddp: a vs-sft rank killed mid-run makes the other exit 1 with an error, not hang",
          "[train][ddp]") {
  VSTAR_REQUIRE_BINARY("vs-sft");
  const fs::path dir = test::TempDir("ddp-sft-kill");
  const fs::path records = test::WriteRecords(dir);
  const fs::path out = dir / "run";
  const auto argv = SftArgs(out, records, 1, {"--max-steps", "100000", "--dist-timeout", "30"});
  const int port = FreePort();
  Rank r0 = SpawnRank(argv, 0, 2, port, dir), r1 = SpawnRank(argv, 1, 2, port, dir);
  // Wait for the first steps (rank 0's metrics), then kill rank 1.
  const fs::path metrics = dir / "run.metrics";
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(300);
  auto steps = [&] { return fs::exists(metrics) ? MetricLines(metrics).size() : 0; };
  while (std::chrono::steady_clock::now() < until && steps() < 2 &&
         ::waitpid(r0.pid, nullptr, WNOHANG) == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  INFO("rank 0 stderr:\n" << test::ReadFile(r0.err));
  REQUIRE(steps() >= 2);
  ::kill(r1.pid, SIGKILL);
  ::waitpid(r1.pid, nullptr, 0);
  const auto t0 = std::chrono::steady_clock::now();
  const int status = WaitFor(r0.pid, 90);  // the collective's timeout (30 s) plus start-up slack
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string err = test::ReadFile(r0.err);
  INFO("rank 0 stderr:\n" << err << "\nexited after " << secs << " s");
  REQUIRE(status == 1);
  CHECK(err.find("rank 0 of 2") != std::string::npos);
  CHECK(err.find("another rank died or did not answer") != std::string::npos);
}

namespace {

// The prompt world of the vs-grpo tests; the awk length reward gives rewards that differ within a
// group, so the advantages and the gradients are not zero.
std::vector<std::string> GrpoArgs(const test::World& w, const std::string& name, int batch) {
  const fs::path out = w.dir / name;
  return {"vs-grpo",
          "--model",
          test::TinyModelDir().string(),
          "--output",
          out.string(),
          "-i",
          w.prompts.string(),
          "--profile",
          "clean",
          "--candidates",
          w.candidates.string(),
          "--device",
          "cpu",
          "--video-max-pixels",
          std::to_string(test::kTinyVideoPixels),
          "--temporal-index-mode",
          "int_spg",
          "--max-new-tokens",
          "6",
          "-G",
          "4",
          "--batch",
          std::to_string(batch),
          "--seed",
          "3",
          "--log-level",
          "warn",
          "--max-steps",
          "2",
          "--lr",
          "1e-2",
          "--schedule",
          "constant",
          "--beta",
          "0.04",
          "--scale",
          "batch",
          "--reward-cmd",
          "awk -f " + w.reward.string(),
          "--dist-timeout",
          "60",
          "--metrics",
          (w.dir / (name + ".metrics")).string()};
}

}  // namespace

// Each group's rollouts are seeded by (seed, step, the group's index in the step's whole batch), so
// rank 1's group 0 draws what one process's group 1 draws; --scale batch needs every rank's rewards
// (they are gathered); --beta loads a reference per rank. Exact equality of the second step's
// rollouts would fail only if fp32-rounding differences of the first update changed a sampled
// token, which the tolerance-level weight difference makes vanishingly unlikely, and the test
// would show it as a differing completion length.
TEST_CASE("ddp: two Gloo ranks of vs-grpo --batch 1 take the steps of one process with --batch 2",
          "[train][ddp]") {
  VSTAR_REQUIRE_BINARY("vs-grpo");
  VSTAR_REQUIRE_PROGRAM("awk");
  const test::World w = test::MakeWorld("ddp-grpo");
  const fs::path& dir = w.dir;
  RunOne(GrpoArgs(w, "one", 2));
  RunRanks(GrpoArgs(w, "two", 1), 2, dir);
  const auto m1 = MetricLines(dir / "one.metrics"), m2 = MetricLines(dir / "two.metrics");
  REQUIRE(m1.size() == 2);
  for (size_t i = 0; i < m1.size(); ++i) {
    // The same rollouts: the same rewards, lengths and trained tokens.
    CHECK(m2[i]["reward"] == m1[i]["reward"]);
    CHECK(m2[i]["rewards"] == m1[i]["rewards"]);
    CHECK(m2[i]["completion_length"] == m1[i]["completion_length"]);
    CHECK(m2[i]["trained_tokens"] == m1[i]["trained_tokens"]);
    CHECK(m2[i]["tool_rate"] == m1[i]["tool_rate"]);
  }
  CHECK(m1.front()["reward_std"].get<double>() > 0);  // the advantages are not all zero
  CheckSameCurve(m2, m1, {"loss", "kl", "grad_norm"});
  CheckSameWeights(dir / "two", dir / "one");
}

TEST_CASE("ddp: the memory plan counts the tiny model's parameters exactly", "[train][ddp]") {
  const auto cfg = model::LoadConfig(test::TinyModelDir());
  const auto ckpt = model::Checkpoint::Open(test::TinyModelDir());
  int64_t stored = 0;
  for (const auto& n : ckpt.Names()) stored += ckpt.Info(n).numel();
  CHECK(train::CountParameters(cfg).total() == stored);
}

TEST_CASE("ddp: vs-sft --dry-run prints the memory plan of Qwen2.5-VL-3B and -7B", "[train][ddp]") {
  VSTAR_REQUIRE_BINARY("vs-sft");
  VSTAR_REQUIRE_SHARED("assets/qwen2.5-vl/config.json");
  VSTAR_REQUIRE_SHARED("assets/qwen2.5-vl/7b/config.json");
  const fs::path dir = test::TempDir("ddp-dry-run");
  auto plan = [&](const fs::path& model, std::vector<std::string> extra) {
    std::vector<std::string> v = {"vs-sft",       "--dry-run", "--model",
                                  model.string(), "--output",  (dir / "out").string()};
    v.insert(v.end(), extra.begin(), extra.end());
    const auto r = test::Run(v);
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(r.err.find("memory plan per rank") != std::string::npos);
    return Json::parse(r.out)["memory_plan"];
  };
  const fs::path b3 = test::SharedDir() / "assets/qwen2.5-vl",
                 b7 = test::SharedDir() / "assets/qwen2.5-vl/7b";
  // The parameter counts of the Hub checkpoints (their model.safetensors.index.json total_size /
  // 2).
  CHECK(plan(b3, {})["parameters"] == 3754622976);
  CHECK(plan(b7, {})["parameters"] == 8292166656);
  // Full fp32 fine-tuning of 7B does not fit in 80 GB (16 bytes a parameter before activations);
  // LoRA on bf16 weights with gradient checkpointing does.
  const Json full = plan(b7, {"--max-length", "4096"});
  CHECK(full["fits_80gb"] == false);
  CHECK(full["zero1"] == false);
  const Json lora = plan(b7, {"--dtype", "bf16", "--lora-rank", "16", "--gradient-checkpointing",
                              "--max-length", "4096"});
  CHECK(lora["fits_80gb"] == true);
  CHECK(lora["gib"]["activations_checkpointed"].get<double>() <
        lora["gib"]["activations"].get<double>());
  CHECK(lora["trainable"].get<int64_t>() < full["trainable"].get<int64_t>() / 100);
  // vs-grpo plans from the options alone (no candidates, no templates): fp32 with a reference copy.
  const auto g = test::Run({"vs-grpo", "--dry-run", "--model", b7.string(), "--output",
                            (dir / "g").string(), "-G", "4", "--beta", "0.04"});
  INFO(g.err);
  REQUIRE(g.status == 0);
  const Json gp = Json::parse(g.out)["memory_plan"];
  CHECK(gp["gib"]["reference"] == gp["gib"]["weights"]);
  CHECK(gp["batch"] == 8);  // the clean profile trains both turns of 4 rollouts in one forward
  CHECK(gp["fits_80gb"] == false);
}

// The recipes of share/vstar/launch/ start working ranks: local.sh's shell loop, and torchrun.sh
// (torchrun --no-python, whose agent serves the store), each the same 2-rank step.
TEST_CASE("ddp: share/vstar/launch/local.sh and torchrun.sh start two vs-sft ranks",
          "[train][ddp]") {
  VSTAR_REQUIRE_BINARY("vs-sft");
  VSTAR_REQUIRE_VENV();
  const fs::path records = test::WriteRecords(test::TempDir("ddp-launch")),
                 dir = records.parent_path();
  const fs::path launch = test::SourceDir() / "share" / "vstar" / "launch";
  const std::string path = test::BinDir().string() + ":" +
                           test::VenvPython().parent_path().string() + ":" +
                           (std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin");
  for (const std::string recipe : {"local.sh", "torchrun.sh"}) {
    // With bash, as an installed tree (no exec bits) runs them.
    std::vector<std::string> argv = {"/bin/bash", (launch / recipe).string()};
    if (recipe == "torchrun.sh") argv.push_back("2");
    const auto sft =
        SftArgs(dir / recipe, records, 1, {"--max-steps", "1", "--dist-timeout", "60"});
    argv.insert(argv.end(), sft.begin(), sft.end());
    const auto r = test::Run(
        argv, "", {{"PATH", path}, {"NPROC", "2"}, {"MASTER_PORT", std::to_string(FreePort())}});
    INFO(recipe << ":\n" << r.err);
    REQUIRE(r.status == 0);
    CHECK(MetricLines(dir / (recipe + ".metrics")).size() == 1);
    CHECK(fs::exists(dir / recipe / "model.safetensors"));
  }
}
