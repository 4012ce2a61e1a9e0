// The "policy" layout vs-policy will write, and that vs-reward and vs-eval read back.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "recog/result.hpp"
#include "support.hpp"

using namespace vstar::recog;
using nlohmann::json;

TEST_CASE("policy result: decisions, tools, answer mapped, readable by vs-reward and vs-eval") {
  Profile p = LoadProfile((vstar::test::SourceDir() / "share/vstar/profiles/clean").string());
  ClassList cl = ParseClassList("Pour\nDrink\n", "t");
  std::string t1 = "<think>[1] a [2] b</think><pose_estimation>yes</pose_estimation>"
                   "<person_detection>no</person_detection><action_explanation>no</action_explanation>"
                   "<video_description>no</video_description>";
  std::string t2 = "<think>\n[1] Body-part movements:\n- Hand: tilts a bottle\n[2] Candidate labels:\n- Pour: hand\n"
                   "[3] Candidate comparison:\n- Pour: 9 - the hand tilts\n</think>\n<answer>**pour**</answer>";
  auto r = MakeResult(p, "dynamic", cl, {t1, 40, 0.5}, ChooseTools(p, t1), {t2, 60, 1.0});
  r.timings["turn1"] = 0.5;
  json j = json::parse(r.ToJson().dump());
  CHECK(j["decisions"]["pose_estimation"]["yes"] == true);
  CHECK(j["tools"]["pose"] == true);
  CHECK(j["tools"]["detect"] == false);
  CHECK(j["answer"]["text"] == "pour");
  CHECK(j["mapped"]["name"] == "Pour");
  CHECK(j["mapped"]["status"] == "mapped");
  auto bad = MakeResult(p, "none", cl, {t1}, ChooseTools(p, t1, ToolMode::kNone), {"<answer>Pouring</answer>"});
  CHECK(bad.ToJson()["mapped"]["status"] == "unmapped");
  CHECK(bad.ToJson()["mapped"]["name"].is_null());

  json rec = {{"id", "1"}, {"label", "Pour"}, {"candidates", {"Pour", "Drink"}}, {"policy", j}};
  auto rw = vstar::test::Run({"vs-reward"}, rec.dump() + "\n");
  REQUIRE(rw.status == 0);
  auto scored = json::parse(vstar::test::Lines(rw.out).at(0));
  // acc 1 + format 1 + tool (one of four) 1 + sub 1 (the only body part is in Pour's comparison)
  CHECK(scored["reward"]["completions"][0]["total"].get<double>() == Approx(4.0));
  auto ev = vstar::test::Run({"vs-eval", "--no-per-class"}, scored.dump() + "\n");
  REQUIRE(ev.status == 0);
  CHECK(ev.out.find("| <stdin> | file | 1 | 100.00 | 100.00 |") != std::string::npos);
}
