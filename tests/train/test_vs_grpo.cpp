// vs-grpo on the tiny random model (tests/fixtures/model/tiny) with prompt records the test writes:
// a learnable reward (a reward program in awk that pays for turn-2 text) rises within a fixed
// number of seeded steps; vs-reward as the reward program equals the in-process reward; reward
// programs that exit, hang or print garbage fail the run naming the command; a run killed with
// SIGKILL and resumed ends with the uninterrupted run's weights; --updates 2 moves and clips the
// ratio on the second update; the official profile (the authors' templates) shares one untrained
// turn 1 per group.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "policy/decompose.hpp"
#include "policy/two_turn.hpp"
#include "recog/profile.hpp"
#include "train/checkpoint.hpp"
#include "train_fixture.hpp"

using namespace vstar;
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

extern char** environ;

namespace {

std::vector<std::string> Args(const test::World& w, const fs::path& out,
                              std::vector<std::string> extra) {
  std::vector<std::string> v = {"vs-grpo",
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
                                "2",
                                "--seed",
                                "3",
                                "--log-level",
                                "warn"};
  v.insert(v.end(), extra.begin(), extra.end());
  return v;
}

std::vector<Json> MetricLines(const fs::path& file) {
  std::vector<Json> out;
  for (const auto& l : test::Lines(test::ReadFile(file)))
    if (!l.empty()) out.push_back(Json::parse(l));
  return out;
}

std::string Weights(const fs::path& dir) {
  return test::ReadFile(dir / "model.safetensors");
}

pid_t Spawn(std::vector<std::string> args) {
  args[0] = (test::BinDir() / args[0]).string();
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  REQUIRE(rc == 0);
  return pid;
}

}  // namespace

TEST_CASE("vs-grpo: a learnable reward rises within a fixed number of seeded steps",
          "[train][grpo]") {
  VSTAR_REQUIRE_BINARY("vs-grpo");
  VSTAR_REQUIRE_PROGRAM("awk");
  const test::World w = test::MakeWorld("vs-grpo-learn");
  const fs::path out = w.dir / "run", metrics = w.dir / "metrics.jsonl";
  auto r =
      test::Run(Args(w, out,
                     {"--max-steps", "10", "--lr", "1e-2", "--schedule", "constant", "--reward-cmd",
                      "awk -f " + w.reward.string(), "--metrics", metrics.string()}));
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out.empty());  // stdout carries records only
  const auto m = MetricLines(metrics);
  REQUIRE(m.size() == 10);
  double first = 0, last = 0;
  for (int i = 0; i < 3; ++i) {
    first += m[i]["reward"].get<double>() / 3;
    last += m[m.size() - 1 - i]["reward"].get<double>() / 3;
  }
  INFO("mean reward, first 3 steps " << first << ", last 3 steps " << last);
  CHECK(last > first + 0.15);
  for (const auto& s : m) {
    CHECK(s["reward_std"].get<double>() >= 0);
    CHECK(s["kl"].is_null());  // --beta 0: no reference
    CHECK(s["completion_length"].get<double>() <= 6);
    for (const char* tool : {"pose", "detect", "explain", "describe"})
      CHECK(s["tool_rate"].contains(tool));
  }
  CHECK(fs::exists(out / "config.json"));
  CHECK(fs::exists(out / "training.png"));
  CHECK(train::ListCheckpoints(out).back().first == 10);
}

// Pays 1 to each completion whose turn 1 asked <action_explanation>WANT</action_explanation> (awk
// -v want=yes|no), else 0: the reward program sees each completion's turn-1 text ("turn1", the last
// key of the completion object) and answers with vs-reward's "reward" key.
constexpr const char* kToolReward = R"AWK({
  line = $0
  rest = substr(line, index(line, "\"completions\":["))
  tag = "<action_explanation>" want "</action_explanation>"
  out = ""; n = 0
  while ((p = index(rest, "\"turn1\":\"")) > 0) {
    rest = substr(rest, p + 9)
    e = index(rest, "\"}")
    turn1 = e > 0 ? substr(rest, 1, e - 1) : rest
    out = out (n++ ? "," : "") "{\"total\":" (index(turn1, tag) > 0 ? 1 : 0) "}"
  }
  sub(/}$/, "", line)
  print line ",\"reward\":{\"completions\":[" out "]}}"
})AWK";

TEST_CASE("vs-grpo: the turn-1 tool-call rate moves the way the reward pushes it (clean profile)",
          "[train][grpo]") {
  VSTAR_REQUIRE_BINARY("vs-sft");
  VSTAR_REQUIRE_BINARY("vs-grpo");
  VSTAR_REQUIRE_PROGRAM("awk");
  const test::World w = test::MakeWorld("vs-grpo-tool-rate");
  // 1. A policy that asks for the explanation tool about half the time: SFT on the clean profile's
  //    own turn-1 prompts (the engine's BuildTurn1 and vs-decompose's record layout), each video
  //    answered once with yes and once with no.
  recog::ProfileOptions po;
  const recog::Profile profile = po.Load();
  const recog::ClassList candidates = policy::LoadCandidates(w.candidates.string());
  std::string sft;
  for (const auto& line : test::Lines(test::ReadFile(w.prompts))) {
    if (line.empty()) continue;
    const io::Record rec(line, "test", 0);
    const policy::Turn turn1 = policy::BuildTurn1(profile, rec);
    for (const std::string yes : {"yes", "no"}) {
      const std::string answer1 = "<action_explanation>" + yes + "</action_explanation>";
      const policy::Turn2 turn2 =
          policy::BuildTurn2(profile, rec, turn1, answer1, policy::ToolStep{}, candidates);
      const auto conv =
          policy::SftMessages(profile, turn1, answer1, turn2.turn,
                              "<answer>" + rec.string("label").value_or("") + "</answer>");
      sft += Json{{"id", rec.string("id").value_or("") + "-" + yes},
                  {"messages", conv.messages},
                  {"turn2_messages", conv.turn2_messages}}
                 .dump() +
             "\n";
    }
  }
  test::WriteFile(w.dir / "sft.jsonl", sft);
  const fs::path base = w.dir / "sft";
  auto s = test::Run({"vs-sft",
                      "--model",
                      test::TinyModelDir().string(),
                      "--output",
                      base.string(),
                      "-i",
                      (w.dir / "sft.jsonl").string(),
                      "--video-max-pixels",
                      std::to_string(test::kTinyVideoPixels),
                      "--max-steps",
                      "40",
                      "--batch",
                      "4",
                      "--lr",
                      "1e-2",
                      "--schedule",
                      "constant",
                      "--log-level",
                      "warn",
                      "--metrics",
                      (w.dir / "sft-metrics.jsonl").string()});
  INFO(s.err);
  REQUIRE(s.status == 0);
  test::WriteFile(w.dir / "tool.awk", kToolReward);

  // 2. GRPO from it, paying for the tool or for its absence: the rate must rise, or fall, by 0.3
  //    from the first step to the mean of the last three, within 8 seeded steps.
  auto rates = [&](const std::string& want) {
    const fs::path out = w.dir / ("grpo-" + want), metrics = w.dir / ("grpo-" + want + ".jsonl");
    auto r = test::Run({"vs-grpo",
                        "--model",
                        base.string(),
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
                        "40",
                        "-G",
                        "8",
                        "--batch",
                        "4",
                        "--seed",
                        "5",
                        "--max-steps",
                        "8",
                        "--lr",
                        "2e-3",
                        "--schedule",
                        "constant",
                        "--reward-cmd",
                        "awk -v want=" + want + " -f " + (w.dir / "tool.awk").string(),
                        "--metrics",
                        metrics.string(),
                        "--log-level",
                        "warn"});
    INFO(r.err);
    REQUIRE(r.status == 0);
    std::vector<double> out_rates;
    for (const auto& m : MetricLines(metrics))
      out_rates.push_back(m["tool_rate"]["explain"].get<double>());
    REQUIRE(out_rates.size() == 8);
    return out_rates;
  };
  auto summary = [](const std::vector<double>& r) {
    std::ostringstream o;
    for (double x : r) o << x << " ";
    return o.str();
  };
  const auto up = rates("yes"), down = rates("no");
  INFO("explain rate paying for yes: " << summary(up) << "; paying for no: " << summary(down));
  const double up_last = (up[5] + up[6] + up[7]) / 3, down_last = (down[5] + down[6] + down[7]) / 3;
  CHECK(up[0] > 0.1);  // the SFT'd policy does sample both answers
  CHECK(up[0] < 0.9);
  CHECK(up_last >= up[0] + 0.3);
  CHECK(down_last <= down[0] - 0.3);
}

TEST_CASE("vs-grpo: a prompt's own candidates are read and used for its turn 2", "[train][grpo]") {
  VSTAR_REQUIRE_BINARY("vs-grpo");
  VSTAR_REQUIRE_PROGRAM("awk");
  const test::World w = test::MakeWorld("vs-grpo-own-candidates");
  auto with_candidates = [&](const Json& list) {
    std::string lines;
    for (const auto& l : test::Lines(test::ReadFile(w.prompts))) {
      if (l.empty()) continue;
      Json j = Json::parse(l);
      if (j["id"] == "a") j["candidates"] = list;
      lines += j.dump() + "\n";
    }
    const fs::path file = w.dir / ("prompts-" + std::to_string(list.size()) + ".jsonl");
    test::WriteFile(file, lines);
    auto args = Args(w, w.dir / ("run-" + std::to_string(list.size())),
                     {"--max-steps", "1", "--reward-cmd", "awk -f " + w.reward.string()});
    args[std::find(args.begin(), args.end(), "-i") - args.begin() + 1] = file.string();
    return test::Run(args);
  };
  auto good = with_candidates(Json::array({"walk", "run", "jump"}));
  INFO(good.err);
  CHECK(good.status == 0);
  // A malformed list is the record's own, not silently replaced by --candidates.
  auto bad = with_candidates(Json::array());
  CHECK(bad.status == 1);
  CHECK(bad.err.find("\"candidates\": no classes") != std::string::npos);
}

TEST_CASE("vs-grpo: vs-reward as the reward program equals the in-process reward",
          "[train][grpo]") {
  VSTAR_REQUIRE_BINARY("vs-grpo");
  VSTAR_REQUIRE_BINARY("vs-reward");
  const test::World w = test::MakeWorld("vs-grpo-ext");
  const std::vector<std::string> common = {"--max-steps", "2", "--lr", "1e-3", "--beta", "0.04"};
  auto in = Args(w, w.dir / "in", common), ext = Args(w, w.dir / "ext", common);
  in.insert(in.end(), {"--metrics", (w.dir / "in.jsonl").string()});
  ext.insert(ext.end(),
             {"--metrics", (w.dir / "ext.jsonl").string(), "--reward-cmd",
              (test::BinDir() / "vs-reward").string() + " --classes " + w.candidates.string()});
  auto a = test::Run(in), b = test::Run(ext);
  INFO(a.err << b.err);
  REQUIRE(a.status == 0);
  REQUIRE(b.status == 0);
  const auto ma = MetricLines(w.dir / "in.jsonl"), mb = MetricLines(w.dir / "ext.jsonl");
  REQUIRE(ma.size() == 2);
  REQUIRE(mb.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(ma[i]["reward"] == mb[i]["reward"]);
    CHECK(ma[i]["rewards"] == mb[i]["rewards"]);
    CHECK(ma[i]["rewards"].contains("format"));
    CHECK(ma[i]["kl"].is_number());  // --beta 0.04 loads the reference
  }
  CHECK(Weights(w.dir / "in") == Weights(w.dir / "ext"));
}

TEST_CASE("vs-grpo: a reward program that exits, hangs or prints garbage fails the run naming it",
          "[train][grpo]") {
  VSTAR_REQUIRE_BINARY("vs-grpo");
  const test::World w = test::MakeWorld("vs-grpo-badreward");
  for (const auto& [cmd, why] : {std::pair<std::string, std::string>{"exit 3", "exit 3"},
                                 {"sleep 20", "sleep 20"},
                                 {"cat >/dev/null; echo not-json", "not-json"}}) {
    INFO(cmd);
    const fs::path out = w.dir / ("out" + std::to_string(std::hash<std::string>{}(cmd)));
    auto r =
        test::Run(Args(w, out, {"--max-steps", "1", "--reward-cmd", cmd, "--reward-timeout", "2"}));
    INFO(r.err);
    CHECK(r.status == 1);
    CHECK_THAT(r.err, Catch::Contains(why));
    CHECK_FALSE(fs::exists(out / "config.json"));  // nothing scored silently, no model written
  }
}

TEST_CASE("vs-grpo: SIGKILL mid-run and --resume end with the uninterrupted run's weights",
          "[train][grpo][fault]") {
  VSTAR_REQUIRE_BINARY("vs-grpo");
  VSTAR_REQUIRE_PROGRAM("awk");
  const test::World w = test::MakeWorld("vs-grpo-fault");
  const std::vector<std::string> common = {
      "--max-steps", "4",    "--save-steps", "1",
      "--lr",        "3e-3", "--reward-cmd", "awk -f " + w.reward.string()};
  const fs::path whole = w.dir / "whole", cut = w.dir / "cut";
  auto r = test::Run(Args(w, whole, common));
  INFO(r.err);
  REQUIRE(r.status == 0);

  const pid_t pid = Spawn(Args(w, cut, common));
  int status = 0;
  bool killed = false;
  while (true) {
    if (fs::exists(cut / "checkpoint-2")) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      killed = WIFSIGNALED(status);
      break;
    }
    if (::waitpid(pid, &status, WNOHANG) == pid) break;
  }
  REQUIRE(killed);
  CHECK_FALSE(fs::exists(cut / "config.json"));
  auto resumed = test::Run(Args(w, cut, [&] {
    auto v = common;
    v.push_back("--resume");
    return v;
  }()));
  INFO(resumed.err);
  REQUIRE(resumed.status == 0);
  CHECK(Weights(cut) == Weights(whole));
  // The resumed run drew the same rollouts: the same rewards step by step.
  const auto hc = train::ReadTrainerState(cut / "checkpoint-4")["history"],
             hw = train::ReadTrainerState(whole / "checkpoint-4")["history"];
  REQUIRE(hc.size() == 4);
  REQUIRE(hw.size() == 4);
  for (size_t i = 0; i < 4; ++i) CHECK(hc[i]["reward"] == hw[i]["reward"]);
}

TEST_CASE(
    "vs-grpo --dtype bf16: fp32 masters, a bf16 reference, and a resume equal to the whole run",
    "[train][grpo]") {
  VSTAR_REQUIRE_BINARY("vs-grpo");
  VSTAR_REQUIRE_PROGRAM("awk");
  const test::World w = test::MakeWorld("vs-grpo-bf16");
  const std::vector<std::string> common = {
      "--dtype", "bf16", "--max-steps", "4",    "--save-steps", "2",
      "--lr",    "1e-2", "--beta",      "0.04", "--reward-cmd", "awk -f " + w.reward.string()};
  const fs::path whole = w.dir / "whole", cut = w.dir / "cut";
  auto args = Args(w, whole, common);
  args.insert(args.end(), {"--metrics", (w.dir / "m.jsonl").string()});
  auto r = test::Run(args);
  INFO(r.err);
  REQUIRE(r.status == 0);
  const auto m = MetricLines(w.dir / "m.jsonl");
  REQUIRE(m.size() == 4);
  for (const auto& s : m) {
    CHECK(std::isfinite(s["loss"].get<double>()));
    CHECK(s["grad_norm"].get<double>() > 0);
    CHECK(s["kl"].is_number());  // the reference (bf16 too) is loaded and scored
  }
  CHECK(m[3]["kl"].get<double>() > 0);  // the policy moved away from it
  // The output holds the fp32 masters: moved from the base, and not all representable in bf16.
  const model::Checkpoint base = model::Checkpoint::Open(test::TinyModelDir()),
                          mine = model::Checkpoint::Open(whole);
  const auto up = mine.Get("model.layers.0.mlp.up_proj.weight");
  CHECK(up.scalar_type() == torch::kFloat32);
  CHECK(!torch::equal(up, base.Get("model.layers.0.mlp.up_proj.weight").to(torch::kFloat32)));
  CHECK(!torch::equal(up, up.to(torch::kBFloat16).to(torch::kFloat32)));
  // A run resumed from the whole run's checkpoint-2 ends where the whole run ended (CPU).
  fs::create_directories(cut);
  fs::copy(whole / "checkpoint-2", cut / "checkpoint-2", fs::copy_options::recursive);
  auto resume = common;
  resume.push_back("--resume");
  auto rr = test::Run(Args(w, cut, resume));
  INFO(rr.err);
  REQUIRE(rr.status == 0);
  CHECK(Weights(cut) == Weights(whole));
  // An fp32 run's checkpoint is not this run's: --dtype is part of the run's identity.
  auto fp32 = Args(w, w.dir / "fp32",
                   {"--max-steps", "4", "--save-steps", "2", "--lr", "1e-2", "--beta", "0.04",
                    "--reward-cmd", "awk -f " + w.reward.string(), "--resume"});
  fs::create_directories(w.dir / "fp32");
  fs::copy(whole / "checkpoint-2", w.dir / "fp32" / "checkpoint-2", fs::copy_options::recursive);
  auto refused = test::Run(fp32);
  CHECK(refused.status == 1);
  CHECK(refused.err.find("belongs to a different run") != std::string::npos);
}

TEST_CASE("vs-grpo: --updates 2 moves and clips the ratio on the second update and logs both",
          "[train][grpo]") {
  VSTAR_REQUIRE_BINARY("vs-grpo");
  VSTAR_REQUIRE_PROGRAM("awk");
  const test::World w = test::MakeWorld("vs-grpo-updates");
  const fs::path metrics = w.dir / "metrics.jsonl";
  auto r = test::Run(Args(
      w, w.dir / "run",
      {"--max-steps", "1", "--updates", "2", "--epsilon", "0.001", "--lr", "1e-2", "--schedule",
       "constant", "--reward-cmd", "awk -f " + w.reward.string(), "--metrics", metrics.string()}));
  INFO(r.err);
  REQUIRE(r.status == 0);
  const auto m = MetricLines(metrics);
  REQUIRE(m.size() == 1);
  INFO(m[0].dump());
  const auto& u = m[0]["updates"];
  REQUIRE(u.size() == 2);
  // Update 1 runs at the sampling policy (ratio 1 up to the log-prob exactness), update 2 after a
  // step.
  CHECK(std::abs(u[0]["ratio_min"].get<double>() - 1) <= 1e-4);
  CHECK(std::abs(u[0]["ratio_max"].get<double>() - 1) <= 1e-4);
  CHECK(u[0]["clip_ratio"].get<double>() == 0.0);
  CHECK((u[1]["ratio_max"].get<double>() > 1.001 || u[1]["ratio_min"].get<double>() < 0.999));
  CHECK(u[1]["clip_ratio"].get<double>() > 0);
  CHECK(m[0]["clip_ratio"].get<double>() == Approx(u[1]["clip_ratio"].get<double>() / 2));
}

TEST_CASE(
    "vs-grpo: the official profile shares one untrained turn 1 per group, the authors' templates",
    "[train][grpo]") {
  VSTAR_REQUIRE_BINARY("vs-grpo");
  VSTAR_REQUIRE_PROGRAM("awk");
  VSTAR_REQUIRE_SHARED("reference/official/templates/grpo.turn1.txt");
  const fs::path templates = test::SharedDir() / "reference" / "official" / "templates";
  const test::World w = test::MakeWorld("vs-grpo-official");
  // The authors' turn 2 names the clip's path: the prompt records carry one.
  std::string with_path;
  for (const auto& line : test::Lines(test::ReadFile(w.prompts))) {
    if (line.empty()) continue;
    Json rec = Json::parse(line);
    rec["path"] =
        rec["label"].get<std::string>() + "/clip_" + rec["id"].get<std::string>() + ".avi";
    with_path += rec.dump() + "\n";
  }
  test::WriteFile(w.prompts, with_path);
  // The reward program keeps what it was asked to score: one line per group, with each completion's
  // turn 1 (--no-temporal: no frame-shuffled completions, which the awk reward would count too).
  const fs::path asked = w.dir / "asked.jsonl";
  const std::string reward = "tee -a " + asked.string() + " | awk -f " + w.reward.string();
  auto run = [&](const std::string& profile) {
    const fs::path out = w.dir / profile, metrics = w.dir / (profile + ".jsonl");
    fs::remove(asked);
    auto args = Args(w, out,
                     {"--templates", templates.string(), "--max-steps", "2", "--lr", "1e-3",
                      "--no-temporal", "--reward-cmd", reward, "--metrics", metrics.string()});
    *(std::find(args.begin(), args.end(), "--profile") + 1) = profile;
    auto r = test::Run(args);
    INFO(r.err);
    REQUIRE(r.status == 0);
    return std::pair{MetricLines(metrics), MetricLines(asked)};
  };
  const auto [official, official_asked] = run("official");
  const auto [clean, clean_asked] = run("clean");
  REQUIRE(official.size() == 2);
  REQUIRE(official_asked.size() == 4);  // 2 steps x 2 groups
  bool clean_differs = false;
  for (const auto& g : official_asked) {
    REQUIRE(g["completions"].size() == 4);
    for (const auto& c : g["completions"]) CHECK(c["turn1"] == g["completions"][0]["turn1"]);
  }
  for (const auto& g : clean_asked)
    for (const auto& c : g["completions"])
      clean_differs = clean_differs || c["turn1"] != g["completions"][0]["turn1"];
  CHECK(clean_differs);  // the clean profile samples turn 1 per rollout
  for (const auto& s : official) {
    INFO(s.dump());
    // One turn-1 row per group (2 groups): the tool-call rate is over those rows, and the trained
    // tokens are turn 2's only: the group's G completions times their mean length, per group.
    const double turn2 = s["completion_length"].get<double>() * 8;
    CHECK(s["trained_tokens"].get<double>() == Approx(turn2));
    CHECK(s["turn1_length"].get<double>() > 0);
    CHECK(s["kl"].is_number());  // the authors' beta 0.04 loads the reference
  }
  for (const auto& s : clean) {
    const double both =
        (s["completion_length"].get<double>() + s["turn1_length"].get<double>()) * 8;
    CHECK(s["trained_tokens"].get<double>() == Approx(both));
  }
}
