// Decision and answer parsing, normalisers and candidate mapping against hand-computed cases taken
// from the Video-STAR scripts (decision regex, ceval1oss/4subtol.py predict, oss_grpo_4subtol.py
// extract_answer, cresult/1.py).
#include <catch2/catch.hpp>

#include "recog/classlist.hpp"
#include "recog/parse.hpp"
#include "recog/regex.hpp"
#include "recog/text.hpp"
#include "support.hpp"

using namespace vstar::recog;

TEST_CASE("normalisers follow the three rules of the authors and ours") {
  CHECK(NormalizeTrain("Brush_hair\n ") == "brushhair");
  CHECK(NormalizeTrain("**Pour**") == "**pour**");
  CHECK(NormalizeScore("**Pour**") == "pour");
  CHECK(LabelKey("**Ride-bike.**") == "ridebike");
  CHECK(LabelKey("Ride bike") == LabelKey("ride_bike"));
  CHECK(Lower("ÉCLAIR Ü") == "éclair ü");
  CHECK(Strip(" \t\n x y \u00a0\n") == "x y");
  CHECK(Words("kick_ball/Goal_kick_ball_f_cm.avi") ==
        std::vector<std::string>{"kick", "ball", "goal", "kick", "ball", "f", "cm", "avi"});
}

TEST_CASE("decisions: first case-insensitive <tag> yes|no </tag>, default no") {
  std::string t =
      "<think>..</think><pose_estimation> YES </pose_estimation><person_detection>no</person_detection>"
      "<pose_estimation>no</pose_estimation><noun_explanation>maybe</noun_explanation>";
  auto d = ParseDecisions(t, {"pose_estimation", "person_detection", "noun_explanation", "video_explanation"});
  REQUIRE(d.size() == 4);
  CHECK(d[0].yes);
  CHECK(d[0].found);
  CHECK_FALSE(d[1].yes);
  CHECK(d[1].found);
  CHECK_FALSE(d[2].found);  // "maybe" is not yes|no: default no
  CHECK_FALSE(d[2].yes);
  CHECK_FALSE(d[3].found);
  CHECK(ParseDecision("<Pose_Estimation>\n yes\n</POSE_ESTIMATION>", "pose_estimation").yes);
  CHECK(AnyYes("<noun_explanation>Yes</noun_explanation>", {"pose_estimation", "noun_explanation"}));
  CHECK_FALSE(AnyYes("<noun_explanation>yes please</noun_explanation>", {"noun_explanation"}));
}

TEST_CASE("answer extraction rules") {
  std::string nested = "<think>a</think><answer><answer> Kick ball </answer></answer>";
  CHECK(ExtractAnswer(nested, AnswerRule::kTrain).text == "Kick ball");
  // 1.py: the capture of the first tag pair is "<answer> Kick ball" -> stripped, kept
  CHECK(ExtractAnswer(nested, AnswerRule::kScore).text == "<answer> Kick ball");
  CHECK(ExtractAnswer(nested, AnswerRule::kEval).text == "<answer><answer> Kick ball </answer>");
  CHECK(ExtractAnswer(nested, AnswerRule::kClean).text == "Kick ball");

  std::string two = "<think>maybe <answer>Drink</answer>?</think>\n<answer>\n**Pour.**\n</answer>";
  CHECK(ExtractAnswer(two, AnswerRule::kTrain).text == "Drink");
  CHECK(ExtractAnswer(two, AnswerRule::kClean).text == "Pour");
  CHECK(ExtractAnswer("<ANSWER>Pour</ANSWER>", AnswerRule::kScore).text == "Pour");
  CHECK_FALSE(ExtractAnswer("<ANSWER>Pour</ANSWER>", AnswerRule::kTrain).found);
  CHECK(ExtractAnswer("<answer>Pour</answer>", AnswerRule::kEval).text == "<answer>Pour</answer>");
  CHECK(ExtractAnswer("<answer>Po\nur</answer>", AnswerRule::kEval).text == "<answer>Pour</answer>");

  auto none = ExtractAnswer("  it is pouring  ", AnswerRule::kScore);
  CHECK_FALSE(none.found);
  CHECK(none.text == "it is pouring");
  CHECK(ExtractAnswer("no tags", AnswerRule::kTrain).text.empty());
  CHECK_FALSE(ExtractAnswer("<answer>unterminated", AnswerRule::kClean).found);
  CHECK(ExtractAnswer("<answer>`Shoot bow`</answer>", AnswerRule::kClean).text == "Shoot bow");
  CHECK(SolutionLabel("<answer>brush_hair</answer>") == "brush_hair");
  CHECK(SolutionLabel("Brush hair") == "Brush hair");
  CHECK_THROWS(ParseAnswerRule("fuzzy"));
}

TEST_CASE("class lists and strict mapping never guess") {
  auto dict = ParseClassList(R"({"0": "Kick ball: a foot strikes a ball", "1": "Kick: a: colon", "2": " Sword : x"})",
                             "dict");
  REQUIRE(dict.size() == 3);
  CHECK(dict.items[0].name == "Kick ball");
  CHECK(dict.items[0].explanation == "a foot strikes a ball");
  CHECK(dict.items[1].name == "Kick");
  CHECK(dict.items[1].explanation == "a: colon");
  CHECK(dict.items[2].name == "Sword");
  CHECK(dict.items[2].line == " Sword : x");

  auto m = MapAnswer("kick_ball", dict);
  CHECK(m.status == "mapped");
  CHECK(m.name == "Kick ball");
  CHECK(MapAnswer("kicking", dict).status == "unmapped");
  CHECK(MapAnswer("", dict).status == "empty");
  auto dup = ParseClassList("Ride bike\nride_bike\n", "txt");
  CHECK(MapAnswer("RIDE BIKE", dup).status == "ambiguous");

  auto text = ParseClassList("# comment\nPour\tliquid goes from one vessel to another\n\nDrink\n", "txt");
  REQUIRE(text.size() == 2);
  CHECK(text.items[0].explanation == "liquid goes from one vessel to another");
  auto arr = ParseClassList(R"(["Pour", {"name": "Drink", "explanation": "sip"}])", "arr");
  CHECK(arr.items[1].explanation == "sip");
  CHECK_THROWS(ParseClassList("[1, 2]", "bad"));
  CHECK_THROWS(ParseClassList("{\"0\": 3}", "bad"));
  CHECK_THROWS(ParseClassList("\n\n", "empty"));
  CHECK_THROWS(LoadClassList("/nonexistent/classes.txt"));
}

TEST_CASE("regex wrapper: Python semantics used by the rewards") {
  Regex lazy("<a>(.*?)</a>", kDotAll);
  auto all = lazy.FindAll("<a>1\n</a><a>2</a>");
  REQUIRE(all.size() == 2);
  CHECK(all[0].group(1) == "1\n");
  Regex end("x(?=y|$)");
  CHECK(end.Search("ax\n"));  // '$' also before a final newline, as in Python
  CHECK(Regex("a.c").Search("a\nc") == std::nullopt);
  CHECK(Regex("<t>.*?</t>\\s*<u>.*?</u>", kDotAll).FullMatch("<t>1</t> <u>2</u>"));
  CHECK_FALSE(Regex("<t>.*?</t>\\s*<u>.*?</u>", kDotAll).FullMatch("<t>1</t> <u>2</u>x"));
  CHECK(Regex(RegexEscape("Push-ups (knees) [x]*")).Search("do Push-ups (knees) [x]* now"));
  CHECK_THROWS_AS(Regex("(unclosed"), std::invalid_argument);
  std::string big(200000, 'a');  // long completions must not blow the stack
  CHECK(Regex("<answer>(.*?)</answer>", kDotAll).Search("<answer>" + big + "</answer>"));
}
