// Official reward against tools/golden/reward_official.py vectors; paper reward against hand-computed
// cases; the vs-reward binary over records.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "recog/classlist.hpp"
#include "recog/profile.hpp"
#include "reward/reward.hpp"
#include "support.hpp"

using namespace vstar::reward;
using Json = nlohmann::json;

TEST_CASE("official reward matches the Python re-statement on hand-written completions") {
  auto dir = vstar::test::FixtureDir() / "reward";
  auto manifest = Json::parse(vstar::test::ReadFile(dir / "official_cases.manifest.json"));
  auto cases = Json::parse(vstar::test::ReadFile(dir / "official_cases.json"));
  OfficialConfig cfg;
  cfg.section1_title = manifest["section1_title"];
  cfg.section3_title = manifest["section3_title"];
  size_t n = 0;
  for (const auto& c : cases) {
    std::vector<Components> ordered, shuffled;
    std::vector<int> tokens;
    for (const auto& comp : c["completions"]) {
      ordered.push_back(Official(comp["text"], c["solution"], c["turn1"], c["problem_type"], cfg));
      tokens.push_back(comp.value("tokens", -1));
    }
    if (c.contains("shuffled"))
      for (const auto& comp : c["shuffled"])
        shuffled.push_back(Official(comp["text"], c["solution"], c["turn1"], c["problem_type"], cfg));
    GroupConfig g;
    g.temporal = c["temporal"];
    g.length = c["len_control"];
    GroupResult r = OfficialGroup(ordered, shuffled, tokens, g);
    const auto& e = c["expected"];
    INFO(c["name"].get<std::string>());
    CHECK(r.temporal_applied == e["temporal_applied"].get<bool>());
    CHECK(r.length_applied == e["length_applied"].get<bool>());
    for (size_t i = 0; i < ordered.size(); ++i, ++n) {
      const auto& x = e["rewards"][i];
      INFO("completion " << i);
      CHECK(ordered[i].acc == Approx(x["acc"].get<double>()).margin(1e-12));
      CHECK(ordered[i].sub == Approx(x["sub"].get<double>()).margin(1e-12));
      CHECK(ordered[i].tool == Approx(x["tool"].get<double>()).margin(1e-12));
      CHECK(ordered[i].format == Approx(x["format"].get<double>()).margin(1e-12));
      CHECK(ordered[i].temporal == Approx(x["temporal"].get<double>()).margin(1e-12));
      CHECK(ordered[i].length == Approx(x["length"].get<double>()).margin(1e-12));
      CHECK(ordered[i].total == Approx(x["total"].get<double>()).margin(1e-12));
      CHECK(ordered[i].answer == x["answer"].get<std::string>());
      CHECK(ordered[i].sub_motions == x["sub_motions"].get<std::vector<std::string>>());
    }
  }
  CHECK(n == manifest["completions"].get<size_t>());
}

TEST_CASE("official reward needs the section titles") {
  CHECK_THROWS(OfficialSubMotion("[1] x:\n- Arm: y", "Pour", OfficialConfig{}));
}

TEST_CASE("shuffled frame order is a seeded permutation") {
  auto a = ShuffledOrder(16, 7), b = ShuffledOrder(16, 7), c = ShuffledOrder(16, 8);
  CHECK(a == b);
  CHECK(a != c);
  auto s = a;
  std::sort(s.begin(), s.end());
  for (size_t i = 0; i < s.size(); ++i) CHECK(s[i] == i);
}

namespace {
const char* kGood =
    "<think>\n[1] Body-part movements:\n- Right hand: tilts a bottle\n- Wrist: rotates\n- Torso: still\n"
    "[2] Candidate labels:\n- Pour: hand tilts\n- Drink: bottle\n[3] Candidate comparison:\n"
    "- Drink: 3 - torso still, no mouth contact\n- Pour: 8 - right hand tilts,\n  the wrist rotates\n"
    "</think>\n<answer>Pour</answer>";
}

TEST_CASE("paper reward: gated tool and sub-motion terms on the predicted candidate") {
  auto cl = vstar::recog::ParseClassList("Pour\nDrink\nKick ball\n", "t");
  std::string t1_one = "<pose_estimation>yes</pose_estimation><person_detection>no</person_detection>";
  std::string t1_all = "<pose_estimation>yes</pose_estimation><person_detection>yes</person_detection>"
                       "<action_explanation>yes</action_explanation><video_description>yes</video_description>";
  PaperConfig cfg;
  auto c = Paper(kGood, "pour", &cl, t1_one, cfg);
  CHECK(c.acc == 1.0);
  CHECK(c.format == 1.0);
  CHECK(c.tool == 1.0);  // one of four tools
  // parts: Right hand (3/6), Wrist (2/6), Torso (1/6); Pour's text mentions right hand and wrist
  CHECK(c.sub == Approx(5.0 / 6.0));
  CHECK(c.total == Approx(3.0 + 5.0 / 6.0));
  CHECK(c.sub_motions == std::vector<std::string>{"Right hand", "Wrist", "Torso"});

  auto all = Paper(kGood, "Pour", &cl, t1_all, cfg);
  CHECK(all.tool == Approx(0.5));  // 1 - 0.5 * (4-1)/(4-1)
  auto none = Paper(kGood, "Pour", &cl, "", cfg);
  CHECK(none.tool == 0.0);

  auto wrong = Paper(kGood, "Drink", &cl, t1_one, cfg);
  CHECK(wrong.acc == 0.0);
  CHECK(wrong.tool == 0.0);
  CHECK(wrong.sub == 0.0);  // gated
  CHECK(wrong.total == 1.0);

  // The predicted candidate's own text counts, not the ground truth's.
  std::string s = kGood;
  CHECK(PaperSubMotion(s, "Drink") == Approx(1.0 / 6.0));  // only torso
  CHECK(PaperSubMotion(s, "Kick ball") == 0.0);

  // An answer outside the candidate list is never correct, even if it equals the label text.
  auto cl2 = vstar::recog::ParseClassList("Drink\n", "t");
  CHECK(Paper(kGood, "Pour", &cl2, t1_one, cfg).acc == 0.0);
  CHECK(Paper(kGood, "pour", nullptr, t1_one, cfg).acc == 1.0);

  CHECK(PaperFormat("junk " + s) == 0.0);
  CHECK(PaperFormat("<think>[1] a [3] b [2] c</think><answer>x</answer>") == 0.0);
  CHECK(PaperFormat("\n<think>[1] a [2] b [3] c</think>\n<answer>x</answer>\n") == 1.0);
  CHECK(PaperTool(2, 4, 0.5) == Approx(1.0 - 0.5 / 3.0));
  CHECK(PaperTool(1, 1, 0.5) == 1.0);

  // The ablation without the gated terms (vs-reward --terms acc-format): accuracy + format only.
  PaperConfig plain;
  plain.gated_terms = false;
  auto p = Paper(kGood, "pour", &cl, t1_one, plain);
  CHECK(p.acc == 1.0);
  CHECK(p.format == 1.0);
  CHECK(p.tool == 0.0);
  CHECK(p.sub == 0.0);
  CHECK(p.total == 2.0);
}

TEST_CASE("vs-reward over records, both variants") {
  Json rec;
  rec["id"] = "v1";
  rec["label"] = "Pour";
  rec["candidates"] = {"Pour", "Drink"};
  rec["policy"] = {{"turn1", {{"text", "<pose_estimation>yes</pose_estimation>"}}},
                   {"turn2", {{"text", kGood}}}};
  Json rec2 = rec;
  rec2["id"] = "v2";
  rec2["completions"] = Json::array({kGood, {{"text", "<answer>Drink</answer>"}, {"tokens", 10}}});
  auto r = vstar::test::Run({"vs-reward", "--variant", "paper"}, rec.dump() + "\n" + rec2.dump() + "\n");
  REQUIRE(r.status == 0);
  auto lines = vstar::test::Lines(r.out);
  REQUIRE(lines.size() == 2);
  auto o1 = Json::parse(lines[0]), o2 = Json::parse(lines[1]);
  CHECK(o1["reward"]["variant"] == "paper");
  CHECK(o1["reward"]["completions"][0]["total"].get<double>() == Approx(3.0 + 5.0 / 6.0));
  CHECK(o2["reward"]["completions"].size() == 2);
  CHECK(o2["reward"]["completions"][1]["total"].get<double>() == 0.0);

  Json bad = rec;
  bad.erase("label");
  auto rb = vstar::test::Run({"vs-reward", "--variant", "paper"}, bad.dump() + "\n");
  CHECK(rb.status == 3);
  CHECK(Json::parse(vstar::test::Lines(rb.out).at(0))["error"]["message"].get<std::string>().find("label") !=
        std::string::npos);
  CHECK(vstar::test::Run({"vs-reward", "--variant", "nonsense"}, "").status == 2);
  // official without the authors' templates: a usage error that says what to give
  auto ro = vstar::test::Run({"vs-reward", "--variant", "official"}, rec.dump() + "\n");
  CHECK(ro.status == 2);
  CHECK(ro.err.find("--templates") != std::string::npos);
}

TEST_CASE("vs-reward official over records with the authors' templates") {
  VSTAR_REQUIRE_SHARED("reference/official/templates");
  auto tdir = vstar::test::SharedDir() / "reference/official/templates";
  Json rec;
  rec["id"] = "v1";
  rec["solution"] = "<answer>ride_bike</answer>";
  rec["problem_type"] = "action-detection";
  rec["turn1"] = "<noun_explanation>yes</noun_explanation>";
  rec["completions"] = Json::array({{{"text", "<think>x</think><answer>Ride bike</answer>"}, {"tokens", 400}},
                                    {{"text", "<think>x</think> <answer>ride bike</answer>"}, {"tokens", 330}}});
  rec["shuffled_completions"] = Json::array({"<answer>Ride horse</answer>"});
  auto r = vstar::test::Run({"vs-reward", "--variant", "official", "--templates", tdir.string()}, rec.dump() + "\n");
  REQUIRE(r.status == 0);
  auto o = Json::parse(vstar::test::Lines(r.out).at(0));
  const auto& c = o["reward"]["completions"];
  CHECK(o["reward"]["temporal_applied"] == true);
  CHECK(c[0]["total"].get<double>() == Approx(1 + 1 + 0.3 + 1 + 0.2));
  CHECK(c[1]["total"].get<double>() == Approx(1 + 1 + 0.3 + 1 + 0.2));
  auto r2 = vstar::test::Run({"vs-reward", "--variant", "official", "--templates", tdir.string(), "--no-temporal",
                              "--no-len-control"},
                             rec.dump() + "\n");
  auto o2 = Json::parse(vstar::test::Lines(r2.out).at(0));
  CHECK(o2["reward"]["completions"][0]["total"].get<double>() == Approx(3.0));
}

TEST_CASE("official R_sub with the section titles read from the authors' templates") {
  VSTAR_REQUIRE_SHARED("reference/official/templates");
  auto tdir = vstar::test::SharedDir() / "reference/official/templates";
  auto p = vstar::recog::LoadProfile((vstar::test::SourceDir() / "share/vstar/profiles/official-grpo").string(), tdir);
  OfficialConfig cfg;
  cfg.section1_title = p.SectionTitle(1);
  cfg.section3_title = p.SectionTitle(3);
  // Built at run time from the template's own titles (the authors' words never enter the repo).
  std::string c = "<think>step:\n[1] " + cfg.section1_title + ":\n   - Right arm: swings\n   - Torso: turns\n[2] x\n[3] " +
                  cfg.section3_title + ":\n   - Swing baseball: 8 - the right arm swings a bat\n   - Golf: 3 - torso\n"
                  "</think>\n<answer>Golf</answer>";
  auto wrong = Official(c, "<answer>Swing baseball</answer>", "", "action-detection", cfg);
  CHECK(wrong.acc == 0.0);
  CHECK(wrong.sub == Approx(2.0 / 3.0));  // ungated, on the ground truth's text: "right arm" (2/3)
  CHECK(wrong.total == Approx(1.0 + 2.0 / 3.0));
  auto under = Official(c, "<answer>swing_baseball</answer>", "", "action-detection", cfg);
  CHECK(under.sub == 0.0);  // the escaped underscore label never matches the model's spelling
}
