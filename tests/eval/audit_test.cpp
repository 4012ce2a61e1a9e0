// vs-audit: every problem of the authors' released files with its count, none on
// our clean prompts; synthetic cases for each check.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "eval/audit.hpp"
#include "recog/classlist.hpp"
#include "recog/profile.hpp"
#include "recog/text.hpp"
#include "support.hpp"

using nlohmann::json;
using vstar::eval::Mentions;
using vstar::recog::Words;

namespace {

// count/total of the finding (check, file[, other]); -1 when absent.
std::pair<long, long> Get(const json& rep, const std::string& check, const std::string& file,
                          const std::string& other = "") {
  for (const auto& f : rep["findings"])
    if (f["check"] == check && f["file"] == file && f.value("other", std::string()) == other)
      return {f["count"].get<long>(), f["total"].get<long>()};
  return {-1, -1};
}

}  // namespace

TEST_CASE("Mentions: word sequences and run-together names") {
  auto w = Words("/data/UCF-101/ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi");
  CHECK(Mentions(w, "Apply Eye Makeup"));
  CHECK_FALSE(Mentions(w, "Apply Lipstick"));
  auto h = Words("hmdb51_pose/kick_ball/Goal_kick_ball_f_cm_np1_ba_med_0.avi");
  CHECK(Mentions(h, "Kick ball"));
  CHECK(Mentions(h, "kick"));
  CHECK_FALSE(Mentions(Words("I understand the standing order"), "stand"));
  CHECK_FALSE(Mentions(w, ""));
}

TEST_CASE("our clean templates name no class of any dataset") {
  auto p = vstar::recog::LoadProfile((vstar::test::SourceDir() / "share/vstar/profiles/clean").string());
  std::string text = p.turn1_template + "\n" + p.turn2_template;
  for (const auto& [k, v] : p.frame_notes) text += "\n" + v;
  auto w = Words(text);
  size_t names = 0;
  for (const char* ds : {"hmdb51", "ucf101", "kinetics400", "kinetics600", "ssv2"}) {
    auto cl = vstar::recog::LoadClassList(vstar::test::SourceDir() / "share/vstar/datasets" / ds / "classes.txt");
    for (const auto& c : cl.items) {
      INFO(ds << ": " << c.name);
      CHECK_FALSE(Mentions(w, c.name));
      ++names;
    }
  }
  CHECK(names == 51 + 101 + 400 + 600 + 174);
}

TEST_CASE("synthetic audit: each check counts what it should") {
  auto dir = vstar::test::TempDir("audit");
  vstar::test::WriteFile(dir / "classes.txt", "Kick\nKick ball\n");
  vstar::test::WriteFile(dir / "train.jsonl",
                         R"({"id":"a","video":"/v/kick/a.avi","label":"Kick"}
{"id":"b","video":"/v/kick_ball/b.avi","label":"Kick ball"}
{"id":"c","video":"/v/wave/c.avi","label":"Wave","note":"x"}
)");
  vstar::test::WriteFile(dir / "test.jsonl",
                         R"({"id":"x","video":"/w/kick/b.avi","label":"Kick ball"}
{"id":"y","video":"/w/kick/y.avi","label":"Kick","policy":{"turn2":{"prompt":"watch the kick"}}}
{"id":"z","video":"/w/clips/z.avi","label":"Kick ball"}
)");
  auto r = vstar::test::Run({"vs-audit", "--train", (dir / "train.jsonl").string(), "--classes",
                             (dir / "classes.txt").string(), "--test", (dir / "test.jsonl").string(), "--field",
                             "policy.turn2.prompt", "--render"});
  INFO(r.err);
  CHECK(r.status == 3);
  auto rep = json::parse(r.out);
  std::string tr = (dir / "train.jsonl").string(), te = (dir / "test.jsonl").string();
  CHECK(Get(rep, "path-label-leak", tr) == std::pair<long, long>{3, 3});
  CHECK(Get(rep, "path-label-leak", te) == std::pair<long, long>{1, 3});
  CHECK(Get(rep, "label-folder-mismatch", te) == std::pair<long, long>{1, 3});  // kick/ labelled Kick ball
  CHECK(Get(rep, "label-outside-candidates", tr) == std::pair<long, long>{1, 3});
  CHECK(Get(rep, "train-test-overlap", te, tr) == std::pair<long, long>{1, 3});  // b.avi
  CHECK(Get(rep, "label-in-prompt", te) == std::pair<long, long>{1, 3});         // the field, not the prompt
  CHECK(Get(rep, "label-in-prompt", tr) == std::pair<long, long>{0, 3});

  // A clean manifest: anonymous paths, labels in the list, no overlap -> exit 0.
  vstar::test::WriteFile(dir / "ok.jsonl", R"({"id":"1","video":"/v/1.avi","label":"Kick"}
{"id":"2","video":"/v/2.avi","label":"Kick ball"}
)");
  auto ok = vstar::test::Run({"vs-audit", "--train", (dir / "ok.jsonl").string(), "--classes",
                              (dir / "classes.txt").string(), "--render"});
  CHECK(ok.status == 0);
  CHECK(json::parse(ok.out)["problems"] == 0);
  CHECK(vstar::test::Run({"vs-audit"}).status == 2);
  CHECK(vstar::test::Run({"vs-audit", "--train", (dir / "missing.jsonl").string()}).status == 2);
}

TEST_CASE("vs-audit on the authors' files reports every problem of §1.5 and §7.1 with its count") {
  VSTAR_REQUIRE_SHARED("reference/official/data/sft.json");
  auto data = vstar::test::SharedDir() / "reference/official/data";
  auto r = vstar::test::Run({"vs-audit", "--official", data.string()});
  INFO(r.err);
  REQUIRE(r.status == 3);
  auto rep = json::parse(r.out);
  using P = std::pair<long, long>;
  // §1.5-1: novel HMDB classes in training, base-only candidate list.
  CHECK(Get(rep, "label-outside-candidates", "sft.json") == P{2185, 4676});
  CHECK(Get(rep, "label-outside-candidates", "rl.json") == P{2185, 4676});
  CHECK(Get(rep, "identical-files", "sft.json", "rl.json") == P{4676, 4676});
  // §1.5-2: swapped labels, 60/750 novel and 60/780 base.
  CHECK(Get(rep, "label-folder-mismatch", "json/hmdb51/test.json") == P{60, 750});
  CHECK(Get(rep, "label-folder-mismatch", "json/hmdb51/val.json") == P{60, 780});
  for (const auto& f : rep["findings"]) {
    if (f["check"] != "label-folder-mismatch") continue;
    if (f["file"] == "json/hmdb51/test.json")
      CHECK(f["detail"]["pairs"] == json{{"kick -> Kick ball", 30}, {"kick_ball -> Kick", 30}});
    else if (f["file"] == "json/hmdb51/val.json")
      CHECK(f["detail"]["pairs"] == json{{"sword -> Sword exercise", 30}, {"sword_exercise -> Sword", 30}});
    else
      FAIL("unexpected mismatch in " << f["file"]);  // the split files are correct
  }
  // §1.5-3: train/test overlap.
  CHECK(Get(rep, "train-test-overlap", "json_split/hmdb51/hmdb_exp_split_2.json", "sft.json") == P{1340, 1530});
  CHECK(Get(rep, "train-test-overlap", "json_split/hmdb51/hmdb_exp_split_3.json", "sft.json") == P{1311, 1530});
  CHECK(Get(rep, "train-test-overlap", "json_split/hmdb51/hmdb_exp_split_full.json", "sft.json") == P{3570, 5100});
  CHECK(Get(rep, "train-test-overlap", "json_split/hmdb51/hmdb_exp_split_1.json", "sft.json") == P{-1, -1});
  CHECK(Get(rep, "train-test-overlap", "json_split/ucf101/ucf_split_2.json", "json/ucf101/train.json") == P{327, 3734});
  CHECK(Get(rep, "train-test-overlap", "json_split/ucf101/ucf_split_3.json", "json/ucf101/train.json") == P{332, 3696});
  // §1.5-4 / §7.1: the folder names the label for 100% of HMDB-split, UCF, K600 and 92% of HMDB B2N.
  CHECK(Get(rep, "path-label-leak", "json/hmdb51/val.json") == P{720, 780});
  CHECK(Get(rep, "path-label-leak", "json/hmdb51/test.json") == P{690, 750});
  for (const char* f : {"json_split/hmdb51/hmdb_exp_split_1.json", "json_split/hmdb51/hmdb_exp_split_full.json",
                        "json/ucf101/val.json", "json/ucf101/test.json", "json_split/ucf101/ucf_split_3.json",
                        "json_split/Kinetics-600-val/k600_split_1.json", "json_split/Kinetics-600-val/k600_split_2.json",
                        "json_split/Kinetics-600-val/k600_split_3.json", "sft.json"}) {
    auto [c, t] = Get(rep, "path-label-leak", f);
    INFO(f);
    CHECK(c > 0);
    CHECK(c == t);
  }
  CHECK(Get(rep, "path-label-leak", "json/SSv2/test.json") == P{-1, -1});  // SSv2 paths carry nothing
  CHECK(Get(rep, "label-in-prompt", "json/hmdb51/val.json") == P{-1, -1});  // prompts not rendered
}

TEST_CASE("rendered prompts: the official annotated path leaks, our clean prompts do not") {
  VSTAR_REQUIRE_SHARED("reference/official/templates");
  auto ref = vstar::test::SharedDir() / "reference/official";
  auto off = vstar::test::Run({"vs-audit", "--official", (ref / "data").string(), "--render", "--profile", "official",
                               "--templates", (ref / "templates").string()});
  REQUIRE(off.status == 3);
  auto o = json::parse(off.out);
  using P = std::pair<long, long>;
  CHECK(Get(o, "label-in-prompt", "json/hmdb51/val.json") == P{780, 780});
  CHECK(Get(o, "label-in-prompt", "json_split/ucf101/ucf_split_1.json") == P{3783, 3783});
  CHECK(Get(o, "label-in-prompt", "json_split/Kinetics-600-val/k600_split_2.json") == P{7226, 7226});
  CHECK(Get(o, "label-in-prompt", "sft.json") == P{4676, 4676});
  CHECK(Get(o, "label-in-prompt", "json/SSv2/test.json") == P{0, 7215});

  auto clean = vstar::test::Run({"vs-audit", "--official", (ref / "data").string(), "--render"});
  auto c = json::parse(clean.out);
  size_t files = 0;
  for (const auto& f : c["findings"]) {
    if (f["check"] != "label-in-prompt") continue;
    ++files;
    INFO(f.dump());
    CHECK(f["count"] == 0);
    CHECK(f["problem"] == false);
    CHECK(f["detail"]["profile"] == "clean");
  }
  CHECK(files == 19);
}
