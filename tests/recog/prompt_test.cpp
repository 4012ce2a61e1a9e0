// Profiles and prompt rendering. The official prompts are checked byte for byte against hashes made
// by tools/golden/prompts_official.py from the authors' templates in ../shared (never copied here).
#include <catch2/catch.hpp>

#include <fstream>

#include <nlohmann/json.hpp>

#include "io/cache.hpp"
#include "recog/classlist.hpp"
#include "recog/profile.hpp"
#include "recog/prompt.hpp"
#include "recog/text.hpp"
#include "support.hpp"

using namespace vstar::recog;
namespace fs = std::filesystem;
using vstar::test::SharedDir;
using vstar::test::SourceDir;

namespace {
const char* kTemplates = "reference/official/templates";
}

TEST_CASE("official prompts are byte-identical to the authors' rendering") {
  VSTAR_REQUIRE_SHARED(kTemplates);
  fs::path ref = SharedDir() / "reference/official";
  auto cases = nlohmann::json::parse(vstar::test::ReadFile(vstar::test::FixtureDir() / "recog/official_prompts.json"));
  REQUIRE(cases.size() >= 60);
  size_t checked = 0;
  for (const auto& c : cases) {
    Profile p = LoadProfile((SourceDir() / "share/vstar/profiles" / c["profile"].get<std::string>()).string(),
                            ref / "templates");
    std::string text;
    if (c["turn"] == 1) {
      text = RenderTurn1(p);
    } else {
      auto records = nlohmann::ordered_json::parse(vstar::test::ReadFile(ref / c["questions"].get<std::string>()));
      const auto& rec = records.at(c["index"].get<size_t>());
      ClassList classes = LoadClassList(ref / c["classes"].get<std::string>());
      p.annotated_root = c["annotated_root"].get<std::string>();
      Turn2Input in;
      in.candidates = &classes;
      in.tools.use["explain"] = c["explain"].get<bool>();
      in.path = rec["path"];
      in.solution = rec["solution"];
      text = RenderTurn2(p, in);
    }
    INFO(c.dump());
    CHECK(text.size() == c["length"].get<size_t>());
    CHECK(vstar::io::Sha256Hex(text) == c["sha256"].get<std::string>());
    ++checked;
  }
  CHECK(checked == cases.size());
}

TEST_CASE("official template lengths and whitespace variants match the spec") {
  VSTAR_REQUIRE_SHARED(kTemplates);
  fs::path t = SharedDir() / kTemplates;
  Profile eval = LoadProfile("official", t), grpo = LoadProfile("official-grpo", t);
  CHECK(eval.turn1_template.size() == 1591);
  CHECK(eval.turn2_template.size() == 2117);
  CHECK(grpo.turn1_template.size() == 1675);
  CHECK(grpo.turn2_template.size() == 2249);
  // The same words after stripping each line.
  auto stripped = [](const std::string& s) {
    std::string out;
    for (const auto& l : SplitLines(s)) out += Strip(l) + "\n";
    return out;
  };
  CHECK(stripped(eval.turn2_template) == stripped(grpo.turn2_template));
  // Training variant: only the first candidate line is indented.
  ClassList cl = ParseClassList("A: x\nB: y\n", "t");
  cl = ParseClassList(R"({"0": "A: x", "1": "B: y"})", "t");
  Turn2Input in;
  in.candidates = &cl;
  in.path = "a/b.avi";
  std::string g = RenderTurn2(grpo, in);
  CHECK(g.find("\n    A\nB.\n") != std::string::npos);
  in.tools.use["explain"] = true;
  std::string e = RenderTurn2(eval, in);
  CHECK(e.find("\nA: x\nB: y.\n") != std::string::npos);
  CHECK(e.find("a/b.avi") != std::string::npos);  // the leak the official profile reproduces
  // Section titles are read from the authors' template, not shipped.
  CHECK_FALSE(eval.SectionTitle(1).empty());
  CHECK_FALSE(eval.SectionTitle(3).empty());
  CHECK(eval.SectionTitle(1) == grpo.SectionTitle(1));
}

TEST_CASE("official profiles refuse to load without --templates") {
  CHECK_THROWS_WITH(LoadProfile("official"), Catch::Contains("--templates"));
  CHECK_THROWS_WITH(LoadProfile("no-such-profile"), Catch::Contains("unknown profile"));
}

TEST_CASE("clean profile: tools reach the prompt, nothing but candidates names labels") {
  Profile p = LoadProfile((SourceDir() / "share/vstar/profiles/clean").string());
  CHECK(p.DecisionTags() ==
        std::vector<std::string>{"pose_estimation", "person_detection", "action_explanation", "video_description"});
  CHECK_FALSE(p.annotated_root);
  ClassList cl = ParseClassList("Pour\tliquid flows from a held vessel\nDrink\n", "t");
  std::string t1 = "<pose_estimation>yes</pose_estimation><person_detection>no</person_detection>"
                   "<action_explanation>yes</action_explanation><video_description>yes</video_description>";
  ToolChoice dyn = ChooseTools(p, t1, ToolMode::kDynamic);
  CHECK(dyn.on("pose"));
  CHECK_FALSE(dyn.on("detect"));
  Turn2Input in;
  in.candidates = &cl;
  in.tools = dyn;
  in.description = "A person tilts a bottle over a glass.";
  in.path = "pour/secret_pour_clip.avi";
  std::map<std::string, std::string> expl = {{"Drink", "a cup is raised to the mouth"}};
  in.explanations = &expl;
  std::string t2 = RenderTurn2(p, in);
  CHECK(t2.find("secret") == std::string::npos);
  CHECK(t2.find("\nPour: liquid flows from a held vessel\nDrink: a cup is raised to the mouth\n") != std::string::npos);
  CHECK(t2.find(p.frame_notes.at("pose")) != std::string::npos);
  CHECK(t2.find(p.frame_notes.at("detect")) == std::string::npos);
  CHECK(t2.find("A person tilts a bottle over a glass.") != std::string::npos);

  Turn2Input none = in;
  none.tools = ChooseTools(p, t1, ToolMode::kNone);
  std::string bare = RenderTurn2(p, none);
  CHECK(bare.find("\nPour\nDrink\n") != std::string::npos);
  CHECK(bare.find("{") == std::string::npos);           // no placeholder left
  CHECK(bare.find("tilts") == std::string::npos);       // no description without the tool
  CHECK(bare.rfind("Choose the label", 0) == 0);        // dropped lines leave no blank scaffolding
  CHECK(bare.find("list.\n\nCandidate labels:") != std::string::npos);
  ToolChoice all = ChooseTools(p, "", ToolMode::kAll);
  CHECK(all.on("pose"));
  CHECK(all.on("describe"));
  CHECK(all.decisions.size() == 4);
  CHECK_FALSE(all.decisions[0].found);
  CHECK_THROWS(ParseToolMode("some"));
  CHECK(p.SectionTitle(3) == "Candidate comparison");
}

TEST_CASE("candidate style definition-first: the definition, then the label it defines") {
  Profile p = LoadProfile((SourceDir() / "share/vstar/profiles/clean").string());
  p.candidate_style = "definition-first";
  ClassList cl = ParseClassList("Pour\tliquid flows from a held vessel\nDrink\nWave\n", "t");
  std::map<std::string, std::string> expl = {{"Drink", "a cup is raised to the mouth"}};
  // Explained: each line ends with its label; a label without a definition stays a bare name.
  CHECK(FormatCandidates(p, cl, true, &expl) ==
        "liquid flows from a held vessel -> Pour\na cup is raised to the mouth -> Drink\nWave");
  // Not explained: names only, as every style.
  CHECK(FormatCandidates(p, cl, false, &expl) == "Pour\nDrink\nWave");

  // A profile file may ask for it; an unknown style is refused with the accepted ones.
  const fs::path clean = SourceDir() / "share/vstar/profiles/clean",
                 dir = vstar::test::TempDir("style");
  auto j = nlohmann::json::parse(vstar::test::ReadFile(clean / "profile.json"));
  j["templates"]["dir"] = "user";  // the clean templates, read from where they are
  j["candidates"]["style"] = "definition-first";
  std::ofstream(dir / "profile.json") << j.dump();
  CHECK(LoadProfile(dir.string(), clean).candidate_style == "definition-first");
  j["candidates"]["style"] = "backwards";
  std::ofstream(dir / "profile.json") << j.dump();
  CHECK_THROWS_WITH(LoadProfile(dir.string(), clean),
                    Catch::Contains("authors|ours|definition-first"));
}
