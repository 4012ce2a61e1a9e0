// vs-import: plain class folders and the authors' question files.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "support.hpp"

using nlohmann::json;

TEST_CASE("vs-import folders: class/clip.ext -> manifest + class list") {
  auto dir = vstar::test::TempDir("import");
  auto ds = dir / "hmdb";
  for (const char* p : {"brush_hair/b.avi", "brush_hair/a.AVI", "kick_ball/k.avi", "kick_ball/readme.txt", "empty/x.md"}) {
    std::filesystem::create_directories((ds / p).parent_path());
    vstar::test::WriteFile(ds / p, "x");
  }
  auto r = vstar::test::Run({"vs-import", "--classes-out", (dir / "classes.json").string(), "folders", ds.string(),
                             "--names", (vstar::test::SourceDir() / "share/vstar/datasets/hmdb51/folders.tsv").string(),
                             "--split", "test"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto lines = vstar::test::Lines(r.out);
  REQUIRE(lines.size() == 3);
  auto a = json::parse(lines[0]);
  CHECK(a["id"] == "brush_hair/a");
  CHECK(a["label"] == "Brush hair");
  CHECK(a["split"] == "test");
  CHECK(a["video"] == (std::filesystem::absolute(ds) / "brush_hair/a.AVI").lexically_normal().string());
  CHECK(json::parse(lines[2])["label"] == "Kick ball");
  auto cl = json::parse(vstar::test::ReadFile(dir / "classes.json"));
  CHECK(cl == json::parse(R"([{"name":"Brush hair","explanation":""},{"name":"Kick ball","explanation":""}])"));
  // A folder missing from the names file is an error, not a silent label.
  vstar::test::WriteFile(dir / "names.tsv", "brush_hair\tBrush hair\n");
  auto bad = vstar::test::Run({"vs-import", "folders", ds.string(), "--names", (dir / "names.tsv").string()});
  CHECK(bad.status == 1);
  CHECK(bad.err.find("kick_ball") != std::string::npos);
  CHECK(vstar::test::Run({"vs-import", "folders", (dir / "nothing").string()}).status == 1);
  CHECK(vstar::test::Run({"vs-import"}).status == 2);
}

TEST_CASE("vs-import authors: question file + class dict, labels from solution or folder") {
  VSTAR_REQUIRE_SHARED("reference/official/data/json/hmdb51/test.json");
  auto ref = vstar::test::SharedDir() / "reference/official/data/json/hmdb51";
  auto dir = vstar::test::TempDir("import-authors");
  auto run = [&](const std::string& from) {
    return vstar::test::Run({"vs-import", "--classes-out", (dir / "c.json").string(), "authors",
                             (ref / "test.json").string(), "--classes", (ref / "test_rephrased.json").string(),
                             "--root", "/data/hmdb51", "--label-from", from});
  };
  auto r = run("solution"), f = run("folder");
  REQUIRE(r.status == 0);
  REQUIRE(f.status == 0);
  auto a = vstar::test::Lines(r.out), b = vstar::test::Lines(f.out);
  REQUIRE(a.size() == 750);
  REQUIRE(b.size() == 750);
  auto first = json::parse(a[0]);
  CHECK(first["id"] == "test:1");
  CHECK(first["split"] == "test");
  CHECK(first["video"].get<std::string>().rfind("/data/hmdb51/brush_hair/", 0) == 0);
  CHECK_FALSE(first.contains("explain"));  // the ground-truth class explanation is not carried over
  size_t differ = 0;
  for (size_t i = 0; i < a.size(); ++i) differ += json::parse(a[i])["label"] != json::parse(b[i])["label"];
  CHECK(differ == 60);  // the swapped kick / kick_ball labels, fixed by --label-from folder
  CHECK(json::parse(vstar::test::ReadFile(dir / "c.json")).size() == 25);
}

TEST_CASE("vs-import authors over several files: records in file order, each class once") {
  auto dir = vstar::test::TempDir("import-many");
  vstar::test::WriteFile(dir / "a.json", R"([{"problem_id": 1, "path": "run/r1.avi", "solution": "<answer>Run</answer>"},
                                              {"problem_id": 2, "path": "jump/j1.avi", "solution": "<answer>Jump</answer>"}])");
  vstar::test::WriteFile(dir / "b.json", R"([{"problem_id": 1, "path": "jump/j2.avi", "solution": "<answer>Jump</answer>"},
                                              {"problem_id": 2, "path": "sit/s1.avi", "solution": "<answer>Sit</answer>"}])");
  auto r = vstar::test::Run({"vs-import", "--classes-out", (dir / "c.json").string(), "-i", (dir / "b.json").string(),
                             "authors", (dir / "a.json").string(), "--root", "/d"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  std::vector<std::string> ids;
  for (const auto& line : vstar::test::Lines(r.out)) ids.push_back(json::parse(line)["id"]);
  CHECK(ids == std::vector<std::string>{"a:1", "a:2", "b:1", "b:2"});
  std::vector<std::string> names;
  for (const auto& c : json::parse(vstar::test::ReadFile(dir / "c.json"))) names.push_back(c["name"]);
  CHECK(names == std::vector<std::string>{"Run", "Jump", "Sit"});
  auto none = vstar::test::Run({"vs-import", "authors"});
  CHECK(none.status == 2);
  CHECK(none.err.find("give at least one question file") != std::string::npos);
}

TEST_CASE("vs-import folders --classes, --list, --per-class: a subset and its candidate list") {
  auto dir = vstar::test::TempDir("import-subset");
  auto ds = dir / "hmdb";
  for (const char* p : {"brush_hair/a.avi", "brush_hair/b.avi", "brush_hair/c.avi", "cartwheel/a.avi", "wave/a.avi",
                        "wave/b.avi"}) {
    std::filesystem::create_directories((ds / p).parent_path());
    vstar::test::WriteFile(ds / p, "x");
  }
  const auto names = (vstar::test::SourceDir() / "share/vstar/datasets/hmdb51/folders.tsv").string();
  // The list: display names and a folder name, in an order of its own, and one class without clips.
  vstar::test::WriteFile(dir / "keep.txt", "Wave\nbrush_hair\nKick ball\n");
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {"vs-import", "--classes-out", (dir / "c.json").string(), "folders", ds.string(),
                                     "--names", names};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return vstar::test::Run(argv);
  };
  auto r = run({"--classes", (dir / "keep.txt").string(), "--per-class", "2"});
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto lines = vstar::test::Lines(r.out);
  REQUIRE(lines.size() == 4);
  CHECK(json::parse(lines[0])["id"] == "brush_hair/a");
  CHECK(json::parse(lines[0])["label"] == "brush_hair");  // spelled as the list spells it
  CHECK(json::parse(lines[1])["id"] == "brush_hair/b");
  CHECK(json::parse(lines[2])["label"] == "Wave");
  CHECK(json::parse(lines[3])["id"] == "wave/b");
  CHECK(r.err.find("1 of the 3 classes") != std::string::npos);  // Kick ball has no clips
  auto cl = json::parse(vstar::test::ReadFile(dir / "c.json"));
  REQUIRE(cl.size() == 3);  // the candidate list is the whole list, in its order
  CHECK(cl[0]["name"] == "Wave");
  CHECK(cl[2]["name"] == "Kick ball");
  // A clip list in UCF-101's testlist form (with and without a trailing class index).
  vstar::test::WriteFile(dir / "split.txt", "wave/b.avi\ncartwheel/a.avi 2\nwave/missing.avi\n");
  auto l = run({"--list", (dir / "split.txt").string(), "--split", "split1"});
  INFO(l.err);
  REQUIRE(l.status == 0);
  lines = vstar::test::Lines(l.out);
  REQUIRE(lines.size() == 2);
  CHECK(json::parse(lines[0])["id"] == "cartwheel/a");
  CHECK(json::parse(lines[1])["id"] == "wave/b");
  CHECK(json::parse(lines[1])["split"] == "split1");
  CHECK(l.err.find("1 of the 3 clips") != std::string::npos);
  CHECK(json::parse(vstar::test::ReadFile(dir / "c.json")).size() == 2);
  // Nothing selected is an error, as an empty folder is.
  vstar::test::WriteFile(dir / "none.txt", "Kick ball\n");
  CHECK(run({"--classes", (dir / "none.txt").string()}).status == 1);
}
