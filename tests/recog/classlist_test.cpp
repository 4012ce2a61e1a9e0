// The one class-list reader (recog/classlist.hpp): every form we accept gives the same names and
// descriptions, in the library and in every binary that takes --classes / --candidates (vs-explain,
// vs-import, vs-eval, vs-reward, vs-audit, vs-policy: the real binaries, run as a user runs them). vs-explain's own output and vs-import's class list are two of the
// forms, so each stage's output feeds the next.
#include <fstream>

#include <nlohmann/json.hpp>

#include "recog/classlist.hpp"
#include "support.hpp"

using namespace vstar;
using Json = nlohmann::json;

namespace {

struct Expected {
  std::vector<std::string> names, descriptions;
};

// Three classes; the second description holds a comma and a colon, the third class has none.
const Expected kSame = {{"Brush hair", "Cartwheel", "Wave"},
                        {"a brush moves through the hair", "the body turns over: hands, then feet", ""}};

Json Parse(const std::string& line) { return Json::parse(line); }

std::vector<Json> Records(const std::string& out) {
  std::vector<Json> r;
  for (const auto& l : test::Lines(out))
    if (!l.empty()) r.push_back(Parse(l));
  return r;
}

void WritePpm(const std::filesystem::path& p, unsigned char level) {
  std::ofstream f(p, std::ios::binary);
  f << "P6\n192 160\n255\n" << std::string(192 * 160 * 3, static_cast<char>(level));
}

void CheckList(const recog::ClassList& got, const Expected& want) {
  CHECK(got.Names() == want.names);
  std::vector<std::string> d;
  for (const auto& c : got.items) d.push_back(c.explanation);
  CHECK(d == want.descriptions);
}

}  // namespace

TEST_CASE("class lists: every form gives the same names and descriptions") {
  const std::vector<std::pair<std::string, std::string>> forms = {
      {"name: description lines",
       "# hand-written\nBrush hair: a brush moves through the hair\n\nCartwheel: the body turns over: hands, then feet\n"
       "Wave\n"},
      {"TSV", "Brush hair\ta brush moves through the hair\nCartwheel\tthe body turns over: hands, then feet\nWave\n"},
      {"CSV", "id,name,description\n0,Brush hair,a brush moves through the hair\r\n"
              "1,Cartwheel,\"the body turns over: hands, then feet\"\n2,Wave,\n"},
      {"authors' dict",
       R"({"0": "Brush hair: a brush moves through the hair", "1": "Cartwheel: the body turns over: hands, then feet", "2": "Wave"})"},
      {"name -> description object",
       R"({"Brush hair": "a brush moves through the hair", "Cartwheel": "the body turns over: hands, then feet", "Wave": ""})"},
      {"array of strings",
       R"(["Brush hair: a brush moves through the hair", "Cartwheel: the body turns over: hands, then feet", "Wave"])"},
      {"array of objects",
       R"([{"name": "Brush hair", "explanation": "a brush moves through the hair"}, {"name": "Cartwheel", "description": "the body turns over: hands, then feet"}, {"name": "Wave"}])"},
      {"JSONL of objects",
       "{\"name\": \"Brush hair\", \"explanation\": \"a brush moves through the hair\"}\n"
       "{\"name\": \"Cartwheel\", \"explanation\": \"the body turns over: hands, then feet\"}\n{\"name\": \"Wave\"}\n"},
      {"vs-explain JSONL",
       R"({"id":"0","index":0,"class":"Brush hair","explain":{"text":"a brush moves through the hair","found":true}})"
       "\n"
       R"({"id":"1","index":1,"class":"Cartwheel","description":"the body turns over: hands, then feet","explain":{"text":null,"found":false,"offered":"No definition"}})"
       "\n"
       R"({"id":"2","index":2,"class":"Wave","explain":{"text":null,"found":false}})"
       "\n"}};
  for (const auto& [form, text] : forms) {
    INFO(form);
    CheckList(recog::ParseClassList(text, form), kSame);
  }
  // Plain names; the authors' line of a dict value is kept verbatim; CSV ids and dict keys are keys.
  CheckList(recog::ParseClassList("Brush hair\nCartwheel\nWave\n", "plain"), {kSame.names, {"", "", ""}});
  auto dict = recog::ParseClassList(R"({"3": "Wave:  hand swings", "7": "Run"})", "d");
  CHECK(dict.items[0].line == "Wave:  hand swings");
  CHECK(dict.items[0].key == "3");
  CHECK(dict.items[1].line == "Run");
  auto csv = recog::ParseClassList("id,name\n0,brush hair\n1,cartwheel\n", "ViFi-CLIP labels");
  CHECK(csv.Names() == std::vector<std::string>{"brush hair", "cartwheel"});
  CHECK(csv.items[1].key == "1");
  CHECK(recog::ParseClassList("wave\tswings\n", "t").items[0].line == "wave: swings");
  CHECK(recog::ParseClassList("\xEF\xBB\xBFwave\n", "bom").Names() == std::vector<std::string>{"wave"});
  // A record's "candidates" value takes the same JSON forms.
  CHECK(recog::ClassListFromJson(nlohmann::ordered_json::array({"Pour", "Drink: lift a cup"}), "rec").items[1].explanation ==
        "lift a cup");

  CHECK_THROWS_WITH(recog::ParseClassList(R"({"class":"wave","error":{"stage":"vs-explain"}})", "bad.jsonl"),
                    Catch::Contains("vs-explain failed for class 'wave'"));
  CHECK_THROWS_WITH(recog::ParseClassList("", "empty.txt"), Catch::Contains("empty.txt: no classes"));
  CHECK_THROWS_WITH(recog::ParseClassList(": no name\n", "x.txt"), Catch::Contains("empty name"));
  CHECK_THROWS_WITH(recog::ParseClassList("id,name\n0,a,b\n", "x.csv"), Catch::Contains("3 fields"));
  CHECK_THROWS_WITH(recog::ParseClassList("[1, 2]", "x.json"), Catch::Contains("item 0"));
  CHECK_THROWS_WITH(recog::LoadClassList("/nonexistent/classes.txt"), Catch::Contains("cannot open class list"));
}

TEST_CASE("class lists: keys, splits and errors (the cases of the plugin host's former reader)") {
  auto plain = recog::ParseClassList("# comment\nbrush_hair\n\ncartwheel\n", "t");
  REQUIRE(plain.size() == 2);
  CHECK(plain.items[1].name == "cartwheel");
  CHECK(plain.items[1].key == "1");
  auto described = recog::ParseClassList("Brush hair: A person brushes: carefully\n", "t");
  CHECK(described.items[0].name == "Brush hair");
  CHECK(described.items[0].explanation == "A person brushes: carefully");
  auto dict = recog::ParseClassList(R"({"0": "Brush hair: uses a brush", "1": "Cartwheel"})", "t");
  CHECK(dict.items[0].key == "0");
  CHECK(dict.items[0].explanation == "uses a brush");
  CHECK(dict.items[1].explanation.empty());
  auto named = recog::ParseClassList(R"({"Run": "moves fast"})", "t");
  CHECK(named.items[0].name == "Run");
  CHECK(named.items[0].explanation == "moves fast");
  auto arr = recog::ParseClassList(R"(["a", {"name": "b", "description": "d"}])", "t");
  CHECK(arr.items[1].explanation == "d");
  auto csv = recog::ParseClassList("id,name\n0,brush hair\n1,cartwheel\n", "t");
  CHECK(csv.items[1].name == "cartwheel");
  CHECK(csv.items[1].key == "1");
  CHECK_THROWS_WITH(recog::ParseClassList("{\"0\": 3}", "x.json"), Catch::Contains("x.json"));
  CHECK_THROWS_WITH(recog::ParseClassList("[1]", "x.json"), Catch::Contains("item 0"));
  CHECK_THROWS_WITH(recog::ParseClassList("{", "x.json"), Catch::Contains("not valid JSON"));
  CHECK_THROWS_WITH(recog::ParseClassList("\n# only\n", "x.txt"), Catch::Contains("no classes"));
  CHECK_THROWS_WITH(recog::ParseClassList(": orphan\n", "x.txt"), Catch::Contains("x.txt: class 1"));
}

TEST_CASE("class lists: each form gives the same names and descriptions in every binary", "[pipeline]") {
  auto dir = test::TempDir("classlist-binaries");
  // The hand-written forms, and the two our stages write: vs-import's class list and vs-explain's JSONL.
  std::vector<std::pair<std::string, std::string>> files = {
      {"lines.txt", "Brush hair: a brush moves through the hair\nCartwheel: the body turns over: hands, then feet\nWave\n"},
      {"list.tsv", "Brush hair\ta brush moves through the hair\nCartwheel\tthe body turns over: hands, then feet\nWave\n"},
      {"list.csv", "name,description\nBrush hair,a brush moves through the hair\n"
                   "Cartwheel,\"the body turns over: hands, then feet\"\nWave,\n"},
      {"dict.json",
       R"({"0": "Brush hair: a brush moves through the hair", "1": "Cartwheel: the body turns over: hands, then feet", "2": "Wave"})"},
      {"array.json", R"([{"name": "Brush hair", "explanation": "a brush moves through the hair"}, {"name": "Cartwheel", "explanation": "the body turns over: hands, then feet"}, "Wave"])"},
      {"objects.jsonl", "{\"name\": \"Brush hair\", \"explanation\": \"a brush moves through the hair\"}\n"
                        "{\"name\": \"Cartwheel\", \"explanation\": \"the body turns over: hands, then feet\"}\n"
                        "{\"name\": \"Wave\"}\n"}};
  for (const auto& [name, text] : files) test::WriteFile(dir / name, text);

  // A question file in the authors' layout, one clip per class, for vs-import.
  Json questions = Json::array();
  for (const auto& n : kSame.names)
    questions.push_back({{"path", n + "/clip.avi"}, {"solution", "<answer>" + n + "</answer>"}, {"problem_id", 1}});
  test::WriteFile(dir / "questions.json", questions.dump());
  auto imported = test::Run({"vs-import", "--classes-out", (dir / "imported.json").string(), "authors",
                             (dir / "questions.json").string(), "--classes", (dir / "lines.txt").string()});
  INFO(imported.err);
  REQUIRE(imported.status == 0);
  files.push_back({"imported.json", ""});
  // vs-explain over vs-import's list: the explanations survive as each record's description.
  auto explained = test::Run({"vs-explain", "--classes", (dir / "imported.json").string(), "--plugin-opt", "nearest=0"});
  INFO(explained.err);
  REQUIRE(explained.status == 0);
  test::WriteFile(dir / "explained.jsonl", explained.out);
  auto explained_recs = Records(explained.out);
  REQUIRE(explained_recs.size() == kSame.names.size());
  for (size_t i = 0; i < explained_recs.size(); ++i) {
    CHECK(explained_recs[i]["class"] == kSame.names[i]);
    CHECK(explained_recs[i].value("description", std::string()) == kSame.descriptions[i]);
    CHECK(explained_recs[i]["explain"]["found"] == true);  // the knowledge base knows all three
  }
  files.push_back({"explained.jsonl", ""});

  // Frames for vs-policy.
  Json frames = Json::array();
  for (int i = 0; i < 2; ++i) {
    WritePpm(dir / ("f" + std::to_string(i) + ".ppm"), static_cast<unsigned char>(60 + 40 * i));
    frames.push_back((dir / ("f" + std::to_string(i) + ".ppm")).string());
  }
  const std::string model = (test::FixtureDir() / "model" / "tiny" / "model").string();

  for (const auto& entry : files) {
    const std::string& name = entry.first;
    const std::string file = (dir / name).string();
    INFO("class list " << name);
    // What this form holds: the hand-written forms hold kSame; vs-explain's output holds its
    // explanations (the local knowledge base's definitions of these three actions).
    Expected want = kSame;
    if (name == "explained.jsonl") {
      want.descriptions.clear();
      for (const auto& r : explained_recs) want.descriptions.push_back(r["explain"]["text"].get<std::string>());
    }

    // vs-explain --classes: one record per class, its description.
    auto ex = test::Run({"vs-explain", "--classes", file});
    INFO(ex.err);
    REQUIRE(ex.status == 0);
    auto recs = Records(ex.out);
    REQUIRE(recs.size() == want.names.size());
    for (size_t i = 0; i < recs.size(); ++i) {
      CHECK(recs[i]["class"] == want.names[i]);
      CHECK(recs[i].value("description", std::string()) == want.descriptions[i]);
    }

    // vs-import authors --classes: the class list it writes back.
    auto out = dir / ("import-" + name + ".json");
    auto im = test::Run({"vs-import", "--classes-out", out.string(), "authors", (dir / "questions.json").string(),
                         "--classes", file});
    INFO(im.err);
    REQUIRE(im.status == 0);
    CheckList(recog::LoadClassList(out), want);

    // vs-eval --classes: the confusion axes, and every answer mapped onto its own class.
    std::string preds;
    for (const auto& n : want.names)
      preds += Json{{"id", n}, {"label", n}, {"policy", {{"turn2", {{"text", "<answer>" + n + "</answer>"}}}}}}.dump() + "\n";
    test::WriteFile(dir / "preds.jsonl", preds);
    auto ev = test::Run({"vs-eval", (dir / "preds.jsonl").string(), "--classes", file, "--json", (dir / "r.json").string(),
                         "-o", "/dev/null"});
    INFO(ev.err);
    REQUIRE(ev.status == 0);
    Json rep = Json::parse(test::ReadFile(dir / "r.json"));
    const Json& scored = rep["runs"][0]["files"][0];
    CHECK(scored["classes"] == Json(want.names));
    CHECK(scored["correct_strict"] == want.names.size());

    // vs-reward --classes: each label is a candidate and each answer maps onto it.
    std::string in;
    for (const auto& n : want.names)
      in += Json{{"id", n}, {"label", n}, {"completions", {"<answer>" + n + "</answer>"}}}.dump() + "\n";
    auto rw = test::Run({"vs-reward", "--classes", file, "--progress", "never"}, in);
    INFO(rw.err);
    REQUIRE(rw.status == 0);
    auto rewarded = Records(rw.out);
    REQUIRE(rewarded.size() == want.names.size());
    for (size_t i = 0; i < rewarded.size(); ++i) CHECK(rewarded[i]["reward"]["completions"][0]["mapped"] == want.names[i]);

    // vs-audit --classes: every label of the list is a candidate, one other label is not.
    std::string manifest;
    for (const auto& n : want.names) manifest += Json{{"id", n}, {"video", n + "/clip.avi"}, {"label", n}}.dump() + "\n";
    manifest += Json{{"id", "x"}, {"video", "jump/clip.avi"}, {"label", "Jump"}}.dump() + "\n";
    test::WriteFile(dir / "manifest.jsonl", manifest);
    auto au = test::Run({"vs-audit", "--train", (dir / "manifest.jsonl").string(), "--classes", file});
    INFO(au.err);
    Json audit = Json::parse(au.out);
    bool outside_reported = false;
    for (const auto& f : audit["findings"])
      if (f["check"] == "label-outside-candidates") {
        outside_reported = true;
        CHECK(f["count"] == 1);
        CHECK(f["total"] == want.names.size() + 1);
        CHECK(f["detail"]["candidates"] == want.names.size());
      }
    CHECK(outside_reported);

    // vs-policy --candidates: the candidate lines turn 2 shows (explanations from the list itself).
    auto po = test::Run({"vs-policy", "--model", model, "--candidates", file, "--tools", "all",
                         "--keep-prompts", "--dtype", "fp32", "--device", "cpu", "--max-new-tokens", "1", "--progress",
                         "never"},
                        Json{{"id", "a"}, {"frames", {{"paths", frames}, {"sample_fps", 2.0}}}}.dump() + "\n");
    INFO(po.err);
    REQUIRE(po.status == 0);
    auto pr = Records(po.out);
    REQUIRE(pr.size() == 1);
    std::string lines;
    for (size_t i = 0; i < want.names.size(); ++i)
      lines += (i ? "\n" : "") + want.names[i] + (want.descriptions[i].empty() ? "" : ": " + want.descriptions[i]);
    CHECK(pr[0]["policy"]["tools"]["explain"]["source"] == "candidates");
    CHECK(pr[0]["policy"]["turn2"]["prompt"].get<std::string>().find(lines) != std::string::npos);
  }
}
