// The external reward command (--reward-cmd): vs-reward run through it scores exactly as the library
// in-process; programs that exit, hang, print garbage or answer for the wrong record fail loudly.
#include <chrono>

#include <catch2/catch.hpp>

#include "io/record.hpp"
#include "reward/external.hpp"
#include "reward/stage.hpp"
#include "support.hpp"

using namespace vstar;
using namespace vstar::reward;
using io::Json;
using Catch::Matchers::Contains;

namespace {

std::string VsReward(const std::string& args) { return "'" + (test::BinDir() / "vs-reward").string() + "' " + args; }

const char* kGood =
    "<think>[1] Observed:\n- Right hand: tilts\n- Torso: still\n[2] Match\n[3] Compare:\n- Pour: right hand "
    "tilts a bottle\n- Drink: torso\n</think>\n<answer>Pour</answer>";

// One record per group (vs-reward scores a record's completions together: the group bonuses need them).
std::vector<Json> PaperGroups() {
  std::vector<Json> recs;
  for (int g = 0; g < 3; ++g) {
    Json r;
    r["id"] = "group-" + std::to_string(g);
    r["label"] = g == 1 ? "Drink" : "Pour";
    r["candidates"] = {"Pour", "Drink"};
    r["completions"] = Json::array();
    for (int i = 0; i < 4; ++i)
      r["completions"].push_back({{"text", i % 2 ? std::string("<answer>Drink</answer>") : std::string(kGood)},
                                  {"turn1", i < 2 ? "<pose_estimation>yes</pose_estimation>" : "no tools"},
                                  {"tokens", 100 + i}});
    recs.push_back(r);
  }
  return recs;
}

std::vector<Json> InProcess(const RewardOptions& opt, const std::vector<Json>& recs) {
  RewardStage stage(opt);
  std::vector<Json> out;
  for (size_t i = 0; i < recs.size(); ++i) {
    io::Record rec(io::Dump(recs[i]), "test", i + 1);
    stage.Score(rec);
    out.push_back(rec.get("reward"));
  }
  return out;
}

}  // namespace

TEST_CASE("vs-reward as the reward command scores as the library in-process, paper variant", "[reward][external]") {
  auto recs = PaperGroups();
  ExternalReward ext(VsReward("--variant paper"), 30);
  auto got = ext.Score(recs);
  RewardOptions opt;
  auto want = InProcess(opt, recs);
  REQUIRE(got.size() == recs.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("record " << i);
    CHECK(got[i] == want[i]);
    CHECK(got[i]["completions"].size() == 4);
  }
  CHECK(got[0]["completions"][0]["total"].get<double>() > got[0]["completions"][1]["total"].get<double>());
}

TEST_CASE("vs-reward as the reward command scores as the library in-process, official variant with group bonuses",
          "[reward][external]") {
  // The reward golden's cases (tools/golden/reward_official.py) with both group bonuses on; the titles
  // are the golden's own, written into a template file of ours.
  auto dir = test::FixtureDir() / "reward";
  auto manifest = Json::parse(test::ReadFile(dir / "official_cases.manifest.json"));
  auto tdir = test::TempDir("external-reward");
  test::WriteFile(tdir / "grpo.turn2.txt", "Think.\n[1] " + manifest["section1_title"].get<std::string>() +
                                              ": ...\n[3] " + manifest["section3_title"].get<std::string>() + ": ...\n");
  std::vector<Json> recs;
  for (const auto& c : Json::parse(test::ReadFile(dir / "official_cases.json"))) {
    if (!c["temporal"].get<bool>() || !c["len_control"].get<bool>()) continue;
    Json r;
    r["id"] = c["name"];
    for (const char* k : {"solution", "turn1", "problem_type", "completions"}) r[k] = c[k];
    if (c.contains("shuffled")) r["shuffled_completions"] = c["shuffled"];
    recs.push_back(r);
  }
  REQUIRE(recs.size() >= 3);
  RewardOptions opt;
  opt.variant = "official";
  opt.templates = tdir.string();
  auto want = InProcess(opt, recs);
  auto got = ExternalReward(VsReward("--variant official --templates '" + tdir.string() + "'"), 30).Score(recs);
  REQUIRE(got.size() == recs.size());
  bool any_temporal = false;
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("record " << recs[i]["id"]);
    CHECK(got[i] == want[i]);
    any_temporal = any_temporal || got[i]["temporal_applied"].get<bool>();
  }
  CHECK(any_temporal);
}

TEST_CASE("a reward command that fails is an error naming it and what it did", "[reward][external]") {
  auto recs = PaperGroups();
  auto fails = [&](const std::string& cmd, const std::string& what, double timeout = 10) {
    INFO(cmd);
    CHECK_THROWS_WITH(ExternalReward(cmd, timeout).Score(recs), Contains("'" + cmd + "'") && Contains(what));
  };
  fails("cat > /dev/null; exit 4", "exited with status 4 after answering 0 of 3 records");
  fails(VsReward("--variant paper") + " | head -n 2", "after answering 2 of 3 records");
  fails("kill -9 $$", "killed by signal");
  fails("cat > /dev/null; echo 'not json at all'", "output line 1 (record 'group-0') is not JSON: not json at all");
  fails("cat > /dev/null; echo '[1, 2]'", "is not a JSON object");
  fails(VsReward("--variant paper") + " | sed 's/\"group-1\"/\"group-9\"/'",
        "output line 2 (record 'group-1') answers for id 'group-9'");
  fails("cat", "output line 1 (record 'group-0') has no \"reward\" key");
  fails(VsReward("--variant paper") + "; echo '{}'", "printed more lines than the 3 records");
  fails(VsReward("--variant paper") + "; exit 5", "answered every record but exited with status 5");
  // vs-reward's own failure protocol: a record it could not score comes back with "error".
  auto bad = recs;
  bad[2].erase("label");
  CHECK_THROWS_WITH(ExternalReward(VsReward("--variant paper"), 10).Score(bad),
                    Contains("record 'group-2'") && Contains("error record") && Contains("label"));
  // A reward whose completions do not match the record's (one score for four completions).
  fails(R"(cat > /dev/null; for i in 0 1 2; do printf '{"id":"group-%s","reward":{"completions":[{"total":1}]}}\n' $i; done)",
        "scores 1 completions, the record has 4");
}

TEST_CASE("a reward command that hangs is killed at the timeout", "[reward][external]") {
  auto recs = PaperGroups();
  auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(ExternalReward("sleep 30", 1).Score(recs),
                    Contains("'sleep 30' did not finish within --reward-timeout") &&
                        Contains("answered 0 of 3 records"));
  // Answers, then keeps its output open past the deadline (a background child holding it).
  CHECK_THROWS_WITH(ExternalReward(VsReward("--variant paper") + "; sleep 30", 1).Score(recs),
                    Contains("did not finish within") && Contains("answered 3 of 3 records"));
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(s < 10);  // both killed after about a second each, the sleeps with them
}

TEST_CASE("reward command options", "[reward][external]") {
  CLI::App app;
  ExternalRewardOptions o;
  o.Register(app);
  app.parse("--reward-cmd 'vs-reward --variant paper' --reward-timeout 2.5", false);
  CHECK(o.command == "vs-reward --variant paper");
  CHECK(o.timeout_s == 2.5);
  CHECK_THROWS_AS(ExternalReward("", 1), std::invalid_argument);
  CHECK_THROWS_AS(ExternalReward("cat", 0), std::invalid_argument);
  CLI::App app2;
  ExternalRewardOptions o2;
  o2.Register(app2);
  CHECK_THROWS_AS(app2.parse("--reward-timeout -1", false), CLI::ValidationError);
}
