// vs-eval against hand-computed cases and against the authors' matching rule on the reference files.
#include <catch2/catch.hpp>

#include <fstream>

#include <nlohmann/json.hpp>

#include "eval/metrics.hpp"
#include "eval/report.hpp"
#include "recog/classlist.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using namespace vstar::eval;
using nlohmann::json;

namespace {

const char* kRecords =
    R"({"id":"1","label":"Pour","policy":{"turn2":{"text":"<answer>Pour</answer>"}}}
{"id":"2","label":"Pour","policy":{"turn2":{"text":"<think>x</think><answer>**Pour**</answer>"}}}
{"id":"3","label":"Drink","policy":{"turn2":{"text":"<answer>drink.</answer>"}}}
{"id":"4","label":"Kick ball","policy":{"turn2":{"text":"<answer>kick_ball</answer>"}}}
{"id":"5","label":"Kick ball","policy":{"turn2":{"text":"<answer>Kick</answer>"}}}
{"id":"6","label":"Drink","policy":{"turn2":{"text":"<answer><answer>Drink</answer></answer>"}}}
{"id":"7","label":"Drink","error":{"stage":"vs-policy","message":"x"}}
{"id":"8","label":"Pour","policy":{"turn2":{"text":"Drink"}}}
)";

}  // namespace

TEST_CASE("hand-computed accuracies, per-class and confusion") {
  auto preds = ParsePredictions(kRecords, "t");
  auto cl = vstar::recog::ParseClassList("Pour\nDrink\nKick ball\n", "t");
  FileScore s = Score(preds, &cl, "t", "file");
  CHECK(s.total == 8);
  CHECK(s.correct_authors == 3);  // 1, 2 ('*' removed), 4 (underscore removed)
  CHECK(s.correct_strict == 5);   // + 3 (trailing period), 6 (nested tags)
  CHECK(s.unmapped == 1);
  CHECK(s.empty == 1);
  CHECK(s.failed == 1);
  REQUIRE(s.per_class.size() == 3);
  CHECK(s.per_class[0].total == 3);
  CHECK(s.per_class[0].correct == 2);
  CHECK(s.per_class[1].correct == 2);
  CHECK(s.per_class[2].correct == 1);
  CHECK(s.confusion == std::vector<std::vector<size_t>>{{2, 0, 0, 1}, {0, 2, 0, 1}, {0, 0, 1, 1}});
  // Without a candidate list only the authors' metric exists; strict is never inferred.
  FileScore bare = Score(preds, nullptr, "t", "file");
  CHECK_FALSE(bare.has_candidates);
  CHECK(bare.correct_authors == 3);
  CHECK(bare.ToJson()["accuracy_strict"].is_null());
  // A label outside the list is an error, not a silent miss.
  auto small = vstar::recog::ParseClassList("Pour\nDrink\n", "t");
  CHECK_THROWS_WITH(Score(preds, &small, "t", "file"), Catch::Contains("Kick ball"));
}

TEST_CASE("harmonic mean and split statistics") {
  CHECK(HarmonicMean(0.8, 0.6) == Approx(0.96 / 1.4));
  CHECK(HarmonicMean(0.963, 0.972) == Approx(0.9675).margin(5e-4));  // README 96.3/97.2 -> 96.7
  CHECK(HarmonicMean(0, 0) == 0);
  auto s = MeanAndStd({0.5, 0.6, 0.7}, true);
  CHECK(s.mean == Approx(0.6));
  CHECK(s.std == Approx(0.1));
  CHECK(MeanAndStd({0.5, 0.6, 0.7}, false).std == Approx(std::sqrt(0.02 / 3)));
}

TEST_CASE("vs-eval: reports, base/novel, splits, confusion files, merge") {
  auto dir = vstar::test::TempDir("eval");
  vstar::test::WriteFile(dir / "a.jsonl", kRecords);
  vstar::test::WriteFile(dir / "classes.txt", "Pour\nDrink\nKick ball\n");
  std::string all_right, half;
  for (int i = 0; i < 4; ++i) {
    all_right += json{{"id", i}, {"label", "Pour"}, {"predict", "<answer>Pour</answer>"}}.dump() + "\n";
    half += json{{"id", i}, {"label", "Pour"}, {"predict", i % 2 ? "<answer>Drink</answer>" : "<answer>Pour</answer>"}}
                .dump() + "\n";
  }
  vstar::test::WriteFile(dir / "right.jsonl", all_right);
  vstar::test::WriteFile(dir / "half.jsonl", half);
  auto r = vstar::test::Run({"vs-eval", "--name", "A", "--classes", (dir / "classes.txt").string(), "--base",
                             (dir / "right.jsonl").string(), "--novel", (dir / "half.jsonl").string(), "--split",
                             (dir / "right.jsonl").string(), "--split", (dir / "half.jsonl").string(), "--split",
                             (dir / "a.jsonl").string(), "--json", (dir / "a.json").string(), "--confusion",
                             (dir / "cm").string()});
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto rep = json::parse(vstar::test::ReadFile(dir / "a.json"));
  const auto& sum = rep["runs"][0]["summary"];
  CHECK(sum["authors"]["base"].get<double>() == 1.0);
  CHECK(sum["authors"]["novel"].get<double>() == 0.5);
  CHECK(sum["authors"]["hm"].get<double>() == Approx(2.0 / 3.0));
  CHECK(sum["authors"]["split_mean"].get<double>() == Approx((1.0 + 0.5 + 3.0 / 8) / 3));
  CHECK(sum["strict"]["split_mean"].get<double>() == Approx((1.0 + 0.5 + 5.0 / 8) / 3));
  CHECK(r.out.find("| A | authors | 100.00 | 50.00 | 66.67 |") != std::string::npos);
  CHECK(std::filesystem::file_size(dir / "cm-1.png") > 100);
  auto svg = vstar::test::ReadFile(dir / "cm-5.svg");
  CHECK(svg.find("<svg") == 0);
  CHECK(svg.find("Kick ball → (unmapped): 1") != std::string::npos);

  auto r2 = vstar::test::Run({"vs-eval", "--name", "B", (dir / "half.jsonl").string(), "--merge",
                              (dir / "a.json").string(), "--no-per-class"});
  REQUIRE(r2.status == 0);
  CHECK(r2.out.find("| A | authors |") != std::string::npos);
  CHECK(r2.out.find("| B | authors | – | – | – | – | 50.00 |") != std::string::npos);

  // Records on standard input (a pipeline); none at all is a report over zero records.
  auto piped = vstar::test::Run({"vs-eval", "--classes", (dir / "classes.txt").string()}, kRecords);
  CHECK(piped.status == 0);
  CHECK(piped.out.find("| <stdin> | file | 8 | 37.50 | 62.50 | 1 | 0 | 1 | 1 |") != std::string::npos);
  CHECK(vstar::test::Run({"vs-eval", "--std", "median"}).status == 2);
  CHECK(vstar::test::Run({"vs-eval", (dir / "missing.jsonl").string()}).status == 1);
  vstar::test::WriteFile(dir / "bad.jsonl", "{\"id\":1}\n");
  auto rb = vstar::test::Run({"vs-eval", (dir / "bad.jsonl").string()});
  CHECK(rb.status == 1);
  CHECK(rb.err.find("label") != std::string::npos);
}

TEST_CASE("vs-eval --confusion with a bare prefix writes a readable PNG and an SVG in the working directory") {
  auto dir = vstar::test::TempDir("eval-conf");
  vstar::test::WriteFile(dir / "a.jsonl", kRecords);
  vstar::test::WriteFile(dir / "classes.txt", "Pour\nDrink\nKick ball\n");
  // "conf" has no directory part (it used to die in create_directories("")); "out/conf" has one that
  // does not exist yet.
  const std::string cmd = "cd '" + dir.string() + "' && '" + (vstar::test::BinDir() / "vs-eval").string() +
                          "' a.jsonl --classes classes.txt --confusion conf -o /dev/null && '" +
                          (vstar::test::BinDir() / "vs-eval").string() +
                          "' a.jsonl --classes classes.txt --confusion out/conf -o /dev/null";
  auto r = vstar::test::Run({"/bin/sh", "-c", cmd});
  INFO(r.err);
  REQUIRE(r.status == 0);
  for (const auto& stem : {dir / "conf", dir / "out" / "conf"}) {
    INFO(stem);
    const std::string png = vstar::test::ReadFile(stem.string() + ".png");
    REQUIRE(png.size() > 24);
    CHECK(png.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
    CHECK(png.compare(png.size() - 8, 4, "IEND") == 0);
    auto be32 = [&](size_t o) {
      return (static_cast<uint32_t>(static_cast<unsigned char>(png[o])) << 24) |
             (static_cast<uint32_t>(static_cast<unsigned char>(png[o + 1])) << 16) |
             (static_cast<uint32_t>(static_cast<unsigned char>(png[o + 2])) << 8) |
             static_cast<uint32_t>(static_cast<unsigned char>(png[o + 3]));
    };
    // Three classes: 44 px cells plus room for the title, names, axis names and the colour scale.
    const uint32_t w = be32(16), h = be32(20);
    CHECK(w >= 400);
    CHECK(w <= 1600);
    CHECK(h >= 250);
    CHECK(h <= 1200);
    CHECK(png.size() > 5000);  // text, cells and a gradient, not a blank page
    CHECK(vstar::test::ReadFile(stem.string() + ".svg").find("<svg") == 0);
  }
}

TEST_CASE("authors' rule on the reference files: the copy-the-folder ceiling of §7.1") {
  VSTAR_REQUIRE_SHARED("reference/official/data/json/hmdb51/val.json");
  auto ref = vstar::test::SharedDir() / "reference/official/data/json";
  auto dir = vstar::test::TempDir("eval-ref");
  // A predictor that copies the class folder out of the annotated path: exactly what the leak allows.
  auto copy_folder = [&](const std::string& in, const std::string& out) {
    auto arr = json::parse(vstar::test::ReadFile(ref / in));
    for (auto& r : arr) {
      std::string path = r["path"];
      r["predict"] = "<answer>" + path.substr(0, path.find('/')) + "</answer>";
    }
    vstar::test::WriteFile(dir / out, arr.dump());
  };
  copy_folder("hmdb51/val.json", "val.json");
  copy_folder("hmdb51/test.json", "test.json");
  copy_folder("ucf101/val.json", "ucf_val.json");
  auto r = vstar::test::Run({"vs-eval", "--name", "folder-copy", "--base", (dir / "val.json").string(), "--novel",
                             (dir / "test.json").string(), "--base-classes", (ref / "hmdb51/train_rephrased.json").string(),
                             "--novel-classes", (ref / "hmdb51/test_rephrased.json").string(), "--json",
                             (dir / "r.json").string(), "-o", "/dev/null"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto rep = json::parse(vstar::test::ReadFile(dir / "r.json"));
  const auto& files = rep["runs"][0]["files"];
  CHECK(files[0]["correct_authors"] == 720);  // 780 - 60 swapped sword/sword_exercise labels
  CHECK(files[0]["total"] == 780);
  CHECK(files[1]["correct_authors"] == 690);  // 750 - 60 swapped kick/kick_ball labels
  CHECK(files[1]["total"] == 750);
  CHECK(files[0]["correct_strict"] == 720);
  CHECK(files[1]["correct_strict"] == 690);
  CHECK(rep["runs"][0]["summary"]["authors"]["hm"].get<double>() ==
        Approx(2 * (720.0 / 780) * (690.0 / 750) / (720.0 / 780 + 690.0 / 750)));
  auto r2 = vstar::test::Run({"vs-eval", (dir / "ucf_val.json").string(), "--classes",
                              (ref / "ucf101/train_rephrased.json").string(), "--json", (dir / "u.json").string(),
                              "-o", "/dev/null"});
  auto u = json::parse(vstar::test::ReadFile(dir / "u.json"));
  // UCF folders are CamelCase ("ApplyEyeMakeup"): 1.py only drops spaces, so it matches "Apply Eye Makeup".
  CHECK(u["runs"][0]["files"][0]["correct_authors"] == 2088);
  CHECK(u["runs"][0]["files"][0]["correct_strict"] == 2088);
  // The oracle (predict = solution) scores 100%.
  auto arr = json::parse(vstar::test::ReadFile(ref / "hmdb51/val.json"));
  for (auto& x : arr) x["predict"] = x["solution"];
  vstar::test::WriteFile(dir / "oracle.json", arr.dump());
  auto r3 = vstar::test::Run({"vs-eval", (dir / "oracle.json").string(), "--json", (dir / "o.json").string(),
                              "-o", "/dev/null"});
  CHECK(json::parse(vstar::test::ReadFile(dir / "o.json"))["runs"][0]["files"][0]["correct_authors"] == 780);
}

TEST_CASE("vs-eval --bars and --summary draw the runs and the --curve training curves") {
  auto dir = vstar::test::TempDir("eval-pictures");
  vstar::test::WriteFile(dir / "a.jsonl", kRecords);
  vstar::test::WriteFile(dir / "classes.txt", "Pour\nDrink\nKick ball\n");
  std::string metrics;
  for (int s = 1; s <= 5; ++s)
    metrics += "{\"step\":" + std::to_string(s) + ",\"reward\":" + std::to_string(0.2 * s) +
               ",\"tool_rate\":{\"pose\":0.0,\"explain\":" + std::to_string(1.0 - 0.1 * s) + "}}\n";
  vstar::test::WriteFile(dir / "grpo.metrics.jsonl", metrics);
  auto png_size = [](const fs::path& p) {
    const std::string png = vstar::test::ReadFile(p);
    REQUIRE(png.size() > 24);
    CHECK(png.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
    auto be32 = [&](size_t o) {
      uint32_t v = 0;
      for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(png[o + i]);
      return v;
    };
    return std::pair<uint32_t, uint32_t>{be32(16), be32(20)};
  };
  auto r = vstar::test::Run({"vs-eval", "--name", "A", "--base", (dir / "a.jsonl").string(), "--novel",
                             (dir / "a.jsonl").string(), "--classes", (dir / "classes.txt").string(), "--confusion",
                             (dir / "conf").string(), "--bars", (dir / "bars.png").string(), "--summary",
                             (dir / "summary.png").string(), "--curve", "run A=" + (dir / "grpo.metrics.jsonl").string(),
                             "-o", "/dev/null"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  const auto bars = png_size(dir / "bars.png");
  CHECK(bars.first == 900);
  CHECK(bars.second == 360);
  // The summary stacks the bars (360), the two curve panels (2 x 260) and the confusion matrices.
  const auto summary = png_size(dir / "summary.png");
  CHECK(summary.first == 1200);
  CHECK(summary.second > 360 + 2 * 260);
  // Without curves or confusion matrices the summary is the bars alone.
  auto plain = vstar::test::Run({"vs-eval", (dir / "a.jsonl").string(), "--classes", (dir / "classes.txt").string(),
                                 "--summary", (dir / "plain.png").string(), "-o", "/dev/null"});
  REQUIRE(plain.status == 0);
  CHECK(png_size(dir / "plain.png").second == 360);
  // A malformed --curve is a usage error; a file that is not a metrics file is an error naming it.
  CHECK(vstar::test::Run({"vs-eval", (dir / "a.jsonl").string(), "--summary", (dir / "x.png").string(), "--curve",
                          "no-equals-sign"}).status == 2);
  vstar::test::WriteFile(dir / "junk.jsonl", "not json\n");
  auto junk = vstar::test::Run({"vs-eval", (dir / "a.jsonl").string(), "--summary", (dir / "x.png").string(),
                                "--curve", "j=" + (dir / "junk.jsonl").string()});
  CHECK(junk.status == 1);
  CHECK(junk.err.find("junk.jsonl:1") != std::string::npos);
}
