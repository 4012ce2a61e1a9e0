// The paper's tables (share/vstar/experiments/paper) on a stand-in laid out like the real datasets:
// HMDB-51, UCF-101 and Kinetics-600 folders (<class folder>/<clip>) holding a few of ../shared's
// clips, two base and two novel classes each, clip lists for the zero-shot splits, the tiny random
// model, both profiles. `make report` runs every stage through the real binaries and fills every
// table; what the tiny model answers is noise, so the numbers are checked for presence and
// bookkeeping, not value. `make -n table1` with real-looking roots shows the commands a user with
// the datasets would run.
#include <algorithm>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "support.hpp"

namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

const fs::path kLists = "share/vstar/datasets";

// Display name -> dataset folder name, from folders.tsv.
std::map<std::string, std::string> FolderOf(const std::string& dataset) {
  std::map<std::string, std::string> out;
  for (const auto& line : vstar::test::Lines(
           vstar::test::ReadFile(vstar::test::SourceDir() / kLists / dataset / "folders.tsv"))) {
    const size_t tab = line.find('\t');
    if (tab != std::string::npos) out[line.substr(tab + 1)] = line.substr(0, tab);
  }
  return out;
}

std::vector<std::string> First(const std::string& dataset, const std::string& list, size_t n) {
  auto names =
      vstar::test::Lines(vstar::test::ReadFile(vstar::test::SourceDir() / kLists / dataset / list));
  names.resize(std::min(n, names.size()));
  return names;
}

// One clip per class folder, copied from `clip`; returns the paths relative to the root.
std::vector<std::string> Fill(const fs::path& root, const std::string& dataset,
                              const std::vector<std::string>& classes, const fs::path& clip) {
  const auto folder = FolderOf(dataset);
  std::vector<std::string> rel;
  for (const auto& c : classes) {
    REQUIRE(folder.count(c));
    const fs::path f =
        fs::path(folder.at(c)) / ("clip_" + std::to_string(rel.size()) + clip.extension().string());
    fs::create_directories(root / f.parent_path());
    fs::copy_file(clip, root / f, fs::copy_options::overwrite_existing);
    rel.push_back(f.string());
  }
  return rel;
}

std::string Make(const std::string& args) {
  return "make -j2 --no-print-directory -f '" +
         (vstar::test::SourceDir() / "share/vstar/experiments/paper/Makefile").string() +
         "' BIN='" + vstar::test::BinDir().string() + "' " + args;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE(
    "paper: make report on a stand-in of HMDB-51, UCF-101 and K-600 fills every table in both "
    "profiles",
    "[pipeline][paper]") {
  VSTAR_REQUIRE_PROGRAM("make");
  VSTAR_REQUIRE_SHARED("assets/videos/hmdb51/RATRACE_wave_f_nm_np1_fr_goo_37.avi");
  VSTAR_REQUIRE_SHARED("assets/videos/ucf101/v_SoccerJuggling_g23_c01.avi");
  VSTAR_REQUIRE_SHARED("assets/videos/kinetics/skateboarding.mp4");
  VSTAR_REQUIRE_SHARED("reference/official/templates/eval.turn2.txt");
  const fs::path videos = vstar::test::SharedDir() / "assets" / "videos";
  const fs::path dir = vstar::test::TempDir("paper");
  const fs::path out = dir / "run";

  // The stand-in: two base and two novel classes of HMDB-51 and UCF-101, one class of each K-600
  // split.
  auto two = [](const std::string& d, const std::string& list) { return First(d, list, 2); };
  std::vector<std::string> hmdb_classes = two("hmdb51", "base.txt"),
                           ucf_classes = two("ucf101", "base.txt");
  for (const auto& c : two("hmdb51", "novel.txt")) hmdb_classes.push_back(c);
  for (const auto& c : two("ucf101", "novel.txt")) ucf_classes.push_back(c);
  std::vector<std::vector<std::string>> k600_splits;
  for (int i = 1; i <= 3; ++i)
    k600_splits.push_back(
        vstar::test::Lines(vstar::test::ReadFile(vstar::test::SourceDir() / kLists / "kinetics600" /
                                                 ("zs_split" + std::to_string(i) + ".txt"))));
  std::vector<std::string> k600_classes;
  for (const auto& split : k600_splits)
    for (const auto& c : split)
      if (std::find(k600_classes.begin(), k600_classes.end(), c) == k600_classes.end()) {
        k600_classes.push_back(c);
        break;
      }
  int k600_clips = 0;  // the splits share classes: a clip counts in every split its class is in
  for (const auto& split : k600_splits)
    for (const auto& c : k600_classes)
      k600_clips += std::find(split.begin(), split.end(), c) != split.end();
  const auto hmdb = Fill(dir / "hmdb51", "hmdb51", hmdb_classes,
                         videos / "hmdb51" / "RATRACE_wave_f_nm_np1_fr_goo_37.avi");
  Fill(dir / "UCF-101", "ucf101", ucf_classes, videos / "ucf101" / "v_SoccerJuggling_g23_c01.avi");
  Fill(dir / "k600", "kinetics600", k600_classes, videos / "kinetics" / "skateboarding.mp4");
  // HMDB-51's three zero-shot splits as clip lists (3, 2 and 4 clips); UCF-101 gets none (one
  // split).
  const std::vector<std::vector<size_t>> picks = {{0, 1, 2}, {1, 3}, {0, 1, 2, 3}};
  std::string splits;
  for (size_t i = 0; i < picks.size(); ++i) {
    std::string text;
    for (size_t k : picks[i]) text += hmdb[k] + " 2\n";
    const fs::path f = dir / ("hmdb_split" + std::to_string(i + 1) + ".txt");
    vstar::test::WriteFile(f, text);
    splits += (i ? " " : "") + f.string();
  }
  const fs::path model = vstar::test::FixtureDir() / "model" / "tiny" / "model";
  const fs::path templates = vstar::test::SharedDir() / "reference" / "official" / "templates";
  const std::string args = "OUT='" + out.string() + "' MODEL='" + model.string() + "' HMDB51='" +
                           (dir / "hmdb51").string() + "' UCF101='" + (dir / "UCF-101").string() +
                           "' K600='" + (dir / "k600").string() + "' HMDB51_SPLITS='" + splits +
                           "' TEMPLATES='" + templates.string() +
                           "' PROFILE=both ABLATION_PROFILES=clean DEVICE=cpu DTYPE=fp32 BATCH=2 "
                           "MAX_NEW_TOKENS=6 SAMPLE=uniform:4"
                           " POLICY_FLAGS='--video-max-pixels 12544' CLIPS_PER_CLASS=1";
  auto r = vstar::test::Run({"/bin/sh", "-c", Make(args + " report")});
  INFO(r.err.substr(r.err.size() > 6000 ? r.err.size() - 6000 : 0));
  REQUIRE(r.status == 0);
  // The datasets left unset are named once each, with the line that sets them.
  CHECK(Count(r.err, "K400 is not set: export K400=") == 1);
  CHECK(Count(r.err, "SSV2 is not set: export SSV2=") == 1);

  const Json rep = Json::parse(vstar::test::ReadFile(out / "report.json"));
  CHECK(rep["profiles"] == Json::parse(R"(["clean", "official"])"));
  // Table 1: HMDB-51 and UCF-101 in both profiles, each half with its two clips; K-400 and SSv2
  // carry only the published numbers.
  std::map<std::string, Json> t1, t2;
  for (const auto& row : rep["table1"]) t1[row["dataset"]] = row;
  for (const auto& row : rep["table2"]) t2[row["dataset"]] = row;
  for (const char* d : {"hmdb51", "ucf101"}) {
    INFO(d);
    REQUIRE(t1.count(d));
    CHECK(t1[d]["evaluated"] == true);
    for (const char* p : {"clean", "official"}) {
      INFO(p);
      const Json& o = t1[d]["ours"][p];
      CHECK(o["records"]["base"] == 2);
      CHECK(o["records"]["novel"] == 2);
      for (const char* k : {"base", "novel", "hm"}) CHECK(o[k].is_number());
    }
  }
  for (const char* d : {"kinetics400", "ssv2"}) {
    INFO(d);
    REQUIRE(t1.count(d));
    CHECK(t1[d]["evaluated"] == false);
    CHECK(t1[d]["published"]["FROSTER"]["hm"].is_number());
  }
  CHECK(t1["hmdb51"]["published"]["Video-STAR"]["base"] == Approx(0.923));
  // Table 2: three splits of HMDB-51 (3 + 2 + 4 clips) and K-600 (a class each), one of UCF-101.
  const std::map<std::string, std::pair<int, int>> zs = {
      {"hmdb51", {3, 9}}, {"kinetics600", {3, k600_clips}}, {"ucf101", {1, 4}}};
  for (const auto& [d, want] : zs) {
    INFO(d);
    REQUIRE(t2.count(d));
    for (const char* p : {"clean", "official"}) {
      INFO(p);
      const Json& o = t2[d]["ours"][p];
      CHECK(o["splits"] == want.first);
      CHECK(o["records"] == want.second);
      CHECK(o["mean"].is_number());
      CHECK(o["std"].is_number());
    }
  }
  // The tool-mode ablation on HMDB-51 (in the clean profile only, to keep this short): every mode,
  // timed.
  std::map<std::string, Json> tools;
  for (const auto& t : rep["tools"])
    tools[t["profile"].get<std::string>() + "/" + t["mode"].get<std::string>()] = t;
  CHECK(tools.size() == 3);
  for (const char* p : {"clean"})
    for (const char* m : {"none", "all", "dynamic"}) {
      INFO(p << " " << m);
      REQUIRE(tools.count(std::string(p) + "/" + m));
      const Json& t = tools[std::string(p) + "/" + m];
      CHECK(t["dataset"] == "hmdb51");
      CHECK(t["seconds_per_video"].get<double>() > 0);
      CHECK(t["hm"].is_number());
    }
  const auto none = Json::parse(
      vstar::test::Lines(vstar::test::ReadFile(out / "clean/hmdb51/b2n-base-none.jsonl"))[0]);
  CHECK(none["policy"]["tools_mode"] == "none");
  // The audit of every dataset in both profiles: the official prompts carry the clip's path, and
  // with it the label; the clean ones do not.
  std::map<std::string, Json> audits;
  for (const auto& a : rep["audits"]) audits[a["name"]] = a["report"];
  CHECK(audits.size() == 6);
  auto leaks = [&](const std::string& name) {
    size_t n = 0;
    for (const auto& f : audits[name]["findings"])
      if (f["check"] == "label-in-prompt") n += f["count"].get<size_t>();
    return n;
  };
  for (const char* d : {"hmdb51", "ucf101", "kinetics600"}) {
    INFO(d);
    REQUIRE(audits.count(std::string("clean/") + d));
    REQUIRE(audits.count(std::string("official/") + d));
    CHECK(leaks(std::string("clean/") + d) == 0);
    CHECK(leaks(std::string("official/") + d) > 0);
  }
  // The notes name what was skipped and the single UCF-101 split.
  const std::string notes = rep["notes"].dump();
  CHECK(notes.find("K400 is not set") != std::string::npos);
  CHECK(notes.find("SSV2 is not set") != std::string::npos);
  CHECK(notes.find("UCF101_SPLITS is not set") != std::string::npos);
  // The Markdown: every table, the skipped datasets marked; stdout is the report.
  const std::string md = vstar::test::ReadFile(out / "report.md");
  for (const char* h :
       {"## Table 1", "## Table 2", "## Tool modes", "## Leak audit", "## Notes", "## Sources"})
    CHECK(md.find(h) != std::string::npos);
  CHECK(md.find("| kinetics400 |") != std::string::npos);
  CHECK(md.find("not run") != std::string::npos);
  CHECK(r.out.find("## Table 1") != std::string::npos);
  CHECK(fs::file_size(out / "report.png") > 5000);

  // A rerun remakes nothing; a changed split list remakes that split and what depends on it only.
  auto again = vstar::test::Run({"/bin/sh", "-c", Make(args + " report")});
  REQUIRE(again.status == 0);
  CHECK(again.out.find("vs-policy") == std::string::npos);
  CHECK(again.out.find("vs-import") == std::string::npos);
  vstar::test::WriteFile(dir / "hmdb_split2.txt", hmdb[2] + "\n" + hmdb[3] + "\n");
  auto changed = vstar::test::Run({"/bin/sh", "-c", Make(args + " report")});
  INFO(changed.err);
  REQUIRE(changed.status == 0);
  CHECK(Count(changed.out, "vs-import ") == 1);
  CHECK(Count(changed.out, "vs-policy ") == 2);  // split 2 in each profile
  CHECK(changed.out.find("zs-split2.jsonl") != std::string::npos);
  CHECK(changed.out.find("b2n-base.jsonl -o") == std::string::npos);
}

TEST_CASE(
    "paper: make -n table1 with real-looking roots prints the pipeline, a missing input is one "
    "line",
    "[pipeline][paper]") {
  VSTAR_REQUIRE_PROGRAM("make");
  const std::string roots =
      "OUT=/runs/paper MODEL=/models/Video-STAR-7B HMDB51=/data/hmdb51 UCF101=/data/UCF-101 "
      "K400=/data/kinetics400/val SSV2=/data/ssv2 TEMPLATES=/data/video-star/templates";
  auto r = vstar::test::Run({"/bin/sh", "-c", Make(roots + " -n table1")});
  INFO(r.err);
  REQUIRE(r.status == 0);
  const std::string lists = (vstar::test::SourceDir() / kLists).string();
  const std::string bin = vstar::test::BinDir().string();
  for (const std::string d : {"hmdb51", "ucf101", "kinetics400", "ssv2"}) {
    INFO(d);
    for (const std::string half : {"base", "novel"}) {
      CHECK(r.out.find(bin + "/vs-import -o /runs/paper/data/" + d + "/b2n-" + half +
                       ".jsonl.part folders ") != std::string::npos);
      CHECK(r.out.find("--names " + lists + "/" + d + "/folders.tsv") != std::string::npos);
      CHECK(r.out.find("--classes " + lists + "/" + d + "/" + half + ".txt --split " + half) !=
            std::string::npos);
      CHECK(r.out.find("-i /runs/paper/data/" + d + "/b2n-" + half +
                       ".jsonl -o /runs/paper/frames/" + d + "/b2n-" + half + ".jsonl.part") !=
            std::string::npos);
      for (const std::string p : {"clean", "official"})
        CHECK(r.out.find("-i /runs/paper/frames/" + d + "/b2n-" + half + ".jsonl -o /runs/paper/" +
                         p + "/" + d + "/b2n-" + half + ".jsonl.part") != std::string::npos);
    }
    for (const std::string p : {"clean", "official"})
      CHECK(r.out.find("vs-eval --name b2n/" + d + "/" + p) != std::string::npos);
  }
  CHECK(r.out.find("folders /data/hmdb51 ") != std::string::npos);
  CHECK(r.out.find("folders /data/kinetics400/val ") != std::string::npos);
  CHECK(Count(r.out, bin + "/vs-policy --model /models/Video-STAR-7B ") ==
        16);  // 4 datasets x 2 halves x 2 profiles
  CHECK(Count(r.out, "--profile official --templates /data/video-star/templates") == 8);
  CHECK(Count(r.out, "--tools dynamic") == 16);
  CHECK(r.out.find("vs-eval --merge") != std::string::npos);
  CHECK(r.out.find("zs-split") == std::string::npos);  // Table 2 is not part of table1
  CHECK(Count(r.err, "K600 is not set: export K600=") == 1);
  // SHARD shards the first record stage, vs-decode, once it takes --shard; the later stages follow.
  auto help = vstar::test::Run({"vs-decode", "--help"});
  if (help.out.find("--shard") != std::string::npos) {
    auto s = vstar::test::Run({"/bin/sh", "-c", Make(roots + " SHARD=1/4 -n table1")});
    REQUIRE(s.status == 0);
    CHECK(Count(s.out, "--shard 1/4") == 8);  // 4 datasets x 2 halves
    for (const auto& line : vstar::test::Lines(s.out))
      if (line.find("--shard") != std::string::npos)
        CHECK(line.find("vs-decode") != std::string::npos);
  }

  // Missing inputs: one line each, naming the variable and how to set it.
  auto no_model =
      vstar::test::Run({"/bin/sh", "-c", Make("HMDB51=/data/hmdb51 PROFILE=clean -n table1")});
  CHECK(no_model.status != 0);
  CHECK(no_model.err.find("MODEL is not set: export MODEL=") != std::string::npos);
  auto no_templates = vstar::test::Run(
      {"/bin/sh", "-c", Make("MODEL=/m HMDB51=/data/hmdb51 PROFILE=both -n table1")});
  CHECK(no_templates.status != 0);
  CHECK(no_templates.err.find("TEMPLATES is not set: export TEMPLATES=") != std::string::npos);
  auto no_data = vstar::test::Run({"/bin/sh", "-c", Make("MODEL=/m PROFILE=clean -n table1")});
  CHECK(no_data.status != 0);
  CHECK(no_data.err.find("no dataset is set: export HMDB51=") != std::string::npos);
  auto clean_only = vstar::test::Run(
      {"/bin/sh", "-c", Make("OUT=/runs/p MODEL=/m HMDB51=/data/hmdb51 PROFILE=clean -n table1")});
  REQUIRE(clean_only.status == 0);
  CHECK(clean_only.out.find("--profile official") == std::string::npos);
}

TEST_CASE("paper: SOURCE=authors takes the halves and splits from the authors' question files",
          "[pipeline][paper]") {
  VSTAR_REQUIRE_PROGRAM("make");
  VSTAR_REQUIRE_SHARED("reference/official/data/json/hmdb51/val.json");
  const fs::path data = vstar::test::SharedDir() / "reference" / "official" / "data";
  const fs::path out = vstar::test::TempDir("paper-authors") / "run";
  const std::string args = "OUT='" + out.string() +
                           "' MODEL=/models/Video-STAR-7B SOURCE=authors AUTHORS='" +
                           data.string() + "' HMDB51=/data/hmdb51 K600=/data/k600 PROFILE=clean ";
  // The import stage runs (it reads no video): the halves with their class dicts, labels from the
  // folders.
  auto r = vstar::test::Run({"/bin/sh", "-c",
                             Make(args + "'" + (out / "data/hmdb51/b2n-base.jsonl").string() +
                                  "' '" + (out / "data/hmdb51/b2n-novel.jsonl").string() + "' '" +
                                  (out / "data/kinetics600/zs-split2.jsonl").string() + "'")});
  INFO(r.err);
  REQUIRE(r.status == 0);
  const auto base = vstar::test::Lines(vstar::test::ReadFile(out / "data/hmdb51/b2n-base.jsonl"));
  CHECK(base.size() == 780);
  CHECK(vstar::test::Lines(vstar::test::ReadFile(out / "data/hmdb51/b2n-novel.jsonl")).size() ==
        750);
  CHECK(
      vstar::test::Lines(vstar::test::ReadFile(out / "data/kinetics600/zs-split2.jsonl")).size() ==
      7226);
  size_t sword = 0;
  for (const auto& l : base) {
    const Json rec = Json::parse(l);
    CHECK(rec["video"].get<std::string>().rfind("/data/hmdb51/", 0) == 0);
    if (rec["path"].get<std::string>().rfind("sword/", 0) == 0) {
      ++sword;
      CHECK(rec["label"] == "Sword");  // the authors' file says "Sword exercise"
    }
  }
  CHECK(sword == 30);
  // The rest of the plan: their class dicts are the candidates of vs-policy and vs-eval.
  auto n = vstar::test::Run({"/bin/sh", "-c", Make(args + "-n report")});
  INFO(n.err);
  REQUIRE(n.status == 0);
  const std::string dict = (data / "json/hmdb51/train_rephrased.json").string();
  CHECK(n.out.find("--candidates " + dict) != std::string::npos);
  CHECK(n.out.find("--base-classes " + dict) != std::string::npos);
  CHECK(n.out.find("k600_split3_rephrased_classes.json") != std::string::npos);
  CHECK(n.out.find("hmdb_exp_split_3.json") != std::string::npos);
  CHECK(n.out.find("folders") == std::string::npos);
}
