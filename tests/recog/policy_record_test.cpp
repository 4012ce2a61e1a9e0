// The `policy` record (recog/policy_record.hpp): one struct, written by vs-policy and read back by
// vs-reward and vs-eval.
#include <nlohmann/json.hpp>

#include "recog/policy_record.hpp"
#include "support.hpp"

using namespace vstar;
using OJson = nlohmann::ordered_json;

namespace {

recog::PolicyRecord TwoTurns() {
  recog::PolicyRecord p;
  p.profile = "clean";
  p.tools_mode = "dynamic";
  p.turn1 = recog::PolicyTurn{"<pose_estimation>yes</pose_estimation>", 12, 300, "stop", 0.5, std::nullopt};
  p.decisions = {{"pose", {"pose_estimation", true}}, {"detect", {"person_detection", std::nullopt}}};
  recog::ToolUse pose{true, true, {{"source", "record"}, {"plugin", "yolo"}}};
  recog::ToolUse detect{false, false, OJson::object()};
  p.tools = {{"pose", pose}, {"detect", detect}};
  p.turn2_frames = "po";
  p.turn2 = {"<think>\n[1] Body-part movements:\n- Hand: tilts a bottle\n[2] Candidate labels:\n- Pour: hand\n"
             "[3] Candidate comparison:\n- Pour: 9 - the hand tilts\n</think>\n<answer>**pour**</answer>",
             40, 500, "stop", 1.5, std::string("Which action?")};
  p.answer = "pour";
  p.answer_found = true;
  p.answer_rule = "clean";
  p.mapped = "Pour";
  p.map_status = "mapped";
  p.timing = {{"turn1_s", 0.5}, {"tools_s", 0.1}, {"turn2_s", 1.5}, {"total_s", 2.1}, {"batch", 1}};
  return p;
}

}  // namespace

TEST_CASE("policy record: both layouts round-trip through JSON") {
  recog::PolicyRecord p = TwoTurns();
  OJson j = p.ToJson();
  CHECK(j["decisions"]["pose"]["answer"] == "yes");
  CHECK(j["decisions"]["detect"]["answer"].is_null());
  CHECK(j["tools"]["pose"].dump() == R"({"chosen":true,"source":"record","plugin":"yolo","used":true})");
  CHECK(j["tools"]["detect"].dump() == R"({"chosen":false,"used":false})");
  CHECK(j["answer_text"] == "pour");
  CHECK(j["unmapped"] == false);
  CHECK(j["turn2"]["prompt"] == "Which action?");
  CHECK_FALSE(j["turn1"].contains("prompt"));
  // Written, parsed and written again: the same bytes.
  OJson again = recog::PolicyRecord::FromJson(OJson::parse(j.dump())).ToJson();
  CHECK(again.dump() == j.dump());

  recog::PolicyRecord unmapped = p;
  unmapped.mapped.reset();
  unmapped.map_status = "ambiguous";
  auto back = recog::PolicyRecord::FromJson(unmapped.ToJson());
  CHECK_FALSE(back.mapped);
  CHECK(back.map_status == "ambiguous");
  CHECK(unmapped.ToJson()["unmapped"] == true);

  recog::PolicyRecord one;
  one.single_turn = true;
  one.turn2 = {"A person pours water.", 6, 90, "stop", 0, std::nullopt};
  one.timing = {{"prefill_s", 0.1}, {"decode_s", 0.2}, {"batch", 1}, {"decode_tok_s", 30.0}};
  one.model = "/models/tiny";
  OJson oj = one.ToJson();
  CHECK(oj.dump() == R"({"response":"A person pours water.","tokens":6,"prompt_tokens":90,"finish_reason":"stop",)"
                     R"("timing":{"prefill_s":0.1,"decode_s":0.2,"batch":1,"decode_tok_s":30.0},"model":"/models/tiny"})");
  auto ob = recog::PolicyRecord::FromJson(oj);
  CHECK(ob.single_turn);
  CHECK(ob.turn2.text == "A person pours water.");
  CHECK_FALSE(ob.turn1);
  CHECK(ob.ToJson().dump() == oj.dump());

  // Readers take what other writers give: a bare turn-2 text, a string turn; wrong types are named.
  CHECK(recog::PolicyRecord::FromJson({{"turn2", {{"text", "<answer>x</answer>"}}}}).turn2.text == "<answer>x</answer>");
  CHECK(recog::PolicyRecord::FromJson({{"turn2", "plain"}}).turn2.text == "plain");
  CHECK_FALSE(recog::PolicyRecord::FromJson({{"turn2", "plain"}}).answer);
  CHECK_THROWS_WITH(recog::PolicyRecord::FromJson({{"turn2", {{"tokens", "many"}}}}), Catch::Contains("policy.turn2.tokens"));
  CHECK_THROWS_WITH(recog::PolicyRecord::FromJson({{"mapped", 3}}), Catch::Contains("policy.mapped"));
}

TEST_CASE("policy record: vs-reward and vs-eval read what vs-policy writes", "[pipeline]") {
  nlohmann::json rec = {{"id", "1"}, {"label", "Pour"}, {"candidates", {"Pour", "Drink"}},
                        {"policy", nlohmann::json::parse(TwoTurns().ToJson().dump())}};
  auto rw = test::Run({"vs-reward"}, rec.dump() + "\n");
  INFO(rw.err);
  REQUIRE(rw.status == 0);
  auto scored = nlohmann::json::parse(test::Lines(rw.out).at(0));
  // acc 1 + format 1 + tool (one of two decisions yes: the turn-1 text is read) 1 + sub 1 (the only body
  // part is in Pour's comparison)
  CHECK(scored["reward"]["completions"][0]["total"].get<double>() == Approx(4.0));
  auto ev = test::Run({"vs-eval", "--no-per-class"}, scored.dump() + "\n");
  INFO(ev.err);
  REQUIRE(ev.status == 0);
  CHECK(ev.out.find("| <stdin> | file | 1 | 100.00 | 100.00 |") != std::string::npos);

  // Strict scoring takes the policy's own mapping when the record carries one ...
  auto with_mapping = TwoTurns();
  with_mapping.answer = "the second one";  // an answer no candidate matches, mapped by vs-policy to Drink
  with_mapping.mapped = "Drink";
  nlohmann::json a = {{"id", "a"}, {"label", "Drink"}, {"candidates", {"Pour", "Drink"}},
                      {"policy", nlohmann::json::parse(with_mapping.ToJson().dump())}};
  // ... and maps the answer itself when the record has none.
  nlohmann::json b = {{"id", "b"}, {"label", "Drink"}, {"candidates", {"Pour", "Drink"}},
                      {"policy", {{"turn2", {{"text", "<answer>drink</answer>"}}}}}};
  auto ev2 = test::Run({"vs-eval", "--no-per-class", "--json", "-", "-o", "/dev/null"}, a.dump() + "\n" + b.dump() + "\n");
  INFO(ev2.err);
  REQUIRE(ev2.status == 0);
  auto report = nlohmann::json::parse(ev2.out);
  CHECK(report["runs"][0]["files"][0]["correct_strict"] == 2);
  CHECK(report["runs"][0]["files"][0]["unmapped"] == 0);
}
