// vs-eval --paper (eval/paper.hpp): the paper's tables from named runs, the published numbers
// beside them, seconds per video from vs-policy's timing, --split-classes; hand-made records with
// known answers.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "eval/metrics.hpp"
#include "eval/paper.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using namespace vstar::eval;
using nlohmann::json;

namespace {

// A policy record: label, answer, and the timing vs-policy writes for a batch of `batch`.
std::string Rec(const std::string& id, const std::string& label, const std::string& answer,
                double turn1, double tools, double turn2, int batch) {
  json t = {{"turn1_s", turn1},
            {"tools_s", tools},
            {"turn2_s", turn2},
            {"total_s", turn1 + tools + turn2},
            {"batch", batch}};
  return json{{"id", id},
              {"label", label},
              {"policy", {{"turn2", {{"text", "<answer>" + answer + "</answer>"}}}, {"timing", t}}}}
             .dump() +
         "\n";
}

}  // namespace

TEST_CASE("seconds per video: each record's share of its batch's turns plus its own tools") {
  auto preds = ParsePredictions(
      Rec("1", "Pour", "Pour", 2.0, 0.5, 4.0, 2) + Rec("2", "Pour", "Drink", 2.0, 1.5, 4.0, 2),
      "t");
  REQUIRE(preds[0].seconds);
  CHECK(*preds[0].seconds == Approx(3.5));  // (2 + 4) / 2 + 0.5
  auto cl = vstar::recog::ParseClassList("Pour\nDrink\n", "t");
  const json j = Score(preds, &cl, "t", "base").ToJson();
  CHECK(j["seconds_per_video"].get<double>() == Approx(4.0));  // (3.5 + 4.5) / 2
  CHECK(j["timed"] == 2);
  // Records without timing (the authors' result files) have no seconds.
  auto plain =
      ParsePredictions(R"({"id":"1","label":"Pour","predict":"<answer>Pour</answer>"})", "t");
  CHECK_FALSE(plain[0].seconds);
  CHECK_FALSE(Score(plain, &cl, "t", "file").ToJson().contains("seconds_per_video"));
}

TEST_CASE("published numbers: six tab-separated columns, comments skipped, bad rows named") {
  auto dir = vstar::test::TempDir("paper-published");
  vstar::test::WriteFile(dir / "ok.tsv", "# c\n\nb2n\thmdb51\tX\tbase\t74.1\tsomewhere\n");
  auto p = LoadPublished(dir / "ok.tsv");
  REQUIRE(p.size() == 1);
  CHECK(p[0].value == Approx(74.1));
  CHECK(p[0].source == "somewhere");
  vstar::test::WriteFile(dir / "short.tsv", "b2n\thmdb51\tX\tbase\t74.1\n");
  CHECK_THROWS_WITH(LoadPublished(dir / "short.tsv"),
                    Catch::Contains("short.tsv:1") && Catch::Contains("6 tab"));
  vstar::test::WriteFile(dir / "nan.tsv", "b2n\thmdb51\tX\tbase\t74.1%\ts\n");
  CHECK_THROWS_WITH(LoadPublished(dir / "nan.tsv"), Catch::Contains("not a number"));
  vstar::test::WriteFile(dir / "table.tsv", "t3\thmdb51\tX\tbase\t1\ts\n");
  CHECK_THROWS_WITH(LoadPublished(dir / "table.tsv"), Catch::Contains("not b2n, zs or tools"));
  // The shipped file loads, and holds both tables of both methods.
  auto shipped =
      LoadPublished(vstar::test::SourceDir() / "share/vstar/experiments/paper/published.tsv");
  size_t b2n = 0, zs = 0;
  for (const auto& x : shipped) {
    b2n += x.table == "b2n";
    zs += x.table == "zs";
  }
  CHECK(b2n >= 12);
  CHECK(zs == 6);
}

TEST_CASE("vs-eval --paper: Table 1, Table 2, tool modes, audits and notes from named runs") {
  auto dir = vstar::test::TempDir("paper-report");
  auto w = [&](const std::string& name, const std::string& text) {
    vstar::test::WriteFile(dir / name, text);
    return (dir / name).string();
  };
  const std::string base_cl = w("base.txt", "Pour\nDrink\n"),
                    novel_cl = w("novel.txt", "Kick\nWave\n");
  // Base 1/2 right, novel 2/2: HM = 2 * 0.5 * 1 / 1.5.
  const std::string base =
      w("base.jsonl", Rec("1", "Pour", "Pour", 1, 0, 1, 1) + Rec("2", "Drink", "Pour", 1, 0, 1, 1));
  const std::string novel =
      w("novel.jsonl", Rec("3", "Kick", "Kick", 1, 0, 1, 1) + Rec("4", "Wave", "Wave", 1, 0, 1, 1));
  const std::string fast = w("fast.jsonl", Rec("1", "Pour", "Pour", 0.5, 0, 0.5, 1) +
                                               Rec("2", "Drink", "Drink", 0.5, 0, 0.5, 1));
  // Two zero-shot splits with lists of their own: 1/1 and 0/2.
  const std::string s1_cl = w("s1.txt", "Pour\nKick\n"), s2_cl = w("s2.txt", "Drink\nWave\n");
  const std::string s1 = w("s1.jsonl", Rec("1", "Kick", "Kick", 1, 0, 1, 1));
  const std::string s2 =
      w("s2.jsonl", Rec("1", "Drink", "Wave", 1, 0, 1, 1) + Rec("2", "Wave", "Drink", 1, 0, 1, 1));
  auto eval = [&](std::vector<std::string> argv) {
    argv.insert(argv.begin(), "vs-eval");
    auto r = vstar::test::Run(argv);
    INFO(r.err);
    REQUIRE(r.status == 0);
    return r;
  };
  const std::string b2n = (dir / "b2n.json").string(), zs = (dir / "zs.json").string(),
                    none = (dir / "none.json").string(), dyn = (dir / "dyn.json").string();
  eval({"--name", "b2n/hmdb51/clean", "--base", base, "--novel", novel, "--base-classes", base_cl,
        "--novel-classes", novel_cl, "--json", b2n, "-o", "/dev/null"});
  eval({"--name", "zs/kinetics600/clean", "--split", s1, s2, "--split-classes", s1_cl, s2_cl,
        "--json", zs, "-o", "/dev/null"});
  eval({"--name", "tools/hmdb51/clean/none", "--base", fast, "--novel", novel, "--base-classes",
        base_cl, "--novel-classes", novel_cl, "--json", none, "-o", "/dev/null"});
  eval({"--name", "tools/hmdb51/clean/dynamic", "--base", base, "--novel", novel, "--base-classes",
        base_cl, "--novel-classes", novel_cl, "--json", dyn, "-o", "/dev/null"});
  // --split-classes wants one list per split.
  CHECK(vstar::test::Run({"vs-eval", "--split", s1, s2, "--split-classes", s1_cl}).status == 2);

  const std::string published = w("published.tsv",
                                  "b2n\thmdb51\tPaper\tbase\t92.3\tsrc A\n"
                                  "b2n\tssv2\tPaper\tnovel\t13.0\tsrc A\n"
                                  "zs\tkinetics600\tPaper\tmean\t98.2\tsrc B\n"
                                  "tools\tall\tPaper\tseconds\t4.10\tsrc C\n");
  const std::string audit =
      w("audit.json", R"({"findings":[{"check":"label-in-prompt","file":"/x/b2n-base.jsonl",
      "count":2,"total":2,"problem":true,"detail":{}}],"problems":1})");
  const std::string png = (dir / "paper.png").string(), js = (dir / "paper.json").string();
  auto r =
      eval({"--paper", published, "--merge", b2n, zs, none, dyn, "--audit",
            "official/hmdb51=" + audit, "--note", "K400 is not set", "--json", js, "--bars", png});
  const json rep = json::parse(vstar::test::ReadFile(js));
  REQUIRE(rep["table1"].size() == 2);  // hmdb51 (ours and published), ssv2 (published only)
  const json& h = rep["table1"][0];
  CHECK(h["dataset"] == "hmdb51");
  CHECK(h["evaluated"] == true);
  CHECK(h["published"]["Paper"]["base"].get<double>() == Approx(0.923));
  CHECK(h["ours"]["clean"]["base"].get<double>() == Approx(0.5));
  CHECK(h["ours"]["clean"]["novel"].get<double>() == Approx(1.0));
  CHECK(h["ours"]["clean"]["hm"].get<double>() == Approx(2.0 / 3.0));
  CHECK(h["ours"]["clean"]["records"]["base"] == 2);
  CHECK(rep["table1"][1]["dataset"] == "ssv2");
  CHECK(rep["table1"][1]["evaluated"] == false);
  REQUIRE(rep["table2"].size() == 1);
  const json& k = rep["table2"][0]["ours"]["clean"];
  CHECK(k["splits"] == 2);
  CHECK(k["mean"].get<double>() == Approx(0.5));  // each split scored against its own list
  CHECK(k["std"].get<double>() == Approx(std::sqrt(0.5)));
  CHECK(k["records"] == 3);
  REQUIRE(rep["tools"].size() == 2);
  CHECK(rep["tools"][0]["mode"] == "none");
  CHECK(rep["tools"][0]["seconds_per_video"].get<double>() == Approx(1.5));  // (1 + 1 + 2 + 2) / 4
  CHECK(rep["tools"][1]["seconds_per_video"].get<double>() == Approx(2.0));
  CHECK(rep["tools_published"]["Paper"]["all"].get<double>() == Approx(4.10));
  CHECK(rep["audits"][0]["name"] == "official/hmdb51");
  CHECK(rep["notes"][0] == "K400 is not set");
  // The markdown, on standard output.
  CHECK(r.out.find("| hmdb51 | 92.3 / – / – | 50.00 / 100.00 / 66.67 |") != std::string::npos);
  CHECK(r.out.find("| ssv2 | – / 13.0 / – | not run |") != std::string::npos);
  CHECK(r.out.find("| kinetics600 | 98.2 | 50.00 ± 70.71 (2 splits, 3 clips) |") !=
        std::string::npos);
  CHECK(r.out.find("| hmdb51 | clean | none | 1.50 | 100.00 | 100.00 | 100.00 | 4 |") !=
        std::string::npos);
  CHECK(r.out.find("| – | Paper (published) | all | 4.10 |") != std::string::npos);
  CHECK(r.out.find("| official/hmdb51 | label-in-prompt | 1 | 2 / 2 | **yes** |") !=
        std::string::npos);
  CHECK(r.out.find("- K400 is not set") != std::string::npos);
  CHECK(r.out.find("- Paper: src A") != std::string::npos);
  CHECK(fs::file_size(png) > 5000);
  for (const auto& e : fs::directory_iterator(dir))
    CHECK(e.path().string().find(".tmp.png") == std::string::npos);
  // A run named like a table cell that does not fit it is an error; --audit and --note need
  // --paper.
  const std::string bad = (dir / "bad.json").string();
  eval({"--name", "b2n/ucf101/clean", "--base", base, "--base-classes", base_cl, "--json", bad,
        "-o", "/dev/null"});
  auto e = vstar::test::Run({"vs-eval", "--paper", published, "--merge", bad});
  CHECK(e.status == 1);
  CHECK(e.err.find("has no novel file") != std::string::npos);
  CHECK(vstar::test::Run({"vs-eval", "--merge", b2n, "--note", "x"}).status == 2);
  CHECK(vstar::test::Run({"vs-eval", "--paper", published, "--merge", b2n, "--audit", "noequals"})
            .status == 2);
}
