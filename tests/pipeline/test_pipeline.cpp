// The whole method on real clips: manifest -> vs-decode -> vs-detect (hog) -> vs-pose (topdown, the
// SimplePose model the build converts) -> vs-explain (local) -> vs-policy (tiny random model,
// both profiles, --tools dynamic|all|none) -> vs-reward -> vs-eval. The tiny model writes random text,
// so this checks that records flow, keys and exit codes, the tools each mode runs, and that the official
// prompts are lib/recog's rendering byte for byte.
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "recog/classlist.hpp"
#include "recog/profile.hpp"
#include "recog/prompt.hpp"
#include "recog/text.hpp"
#include "support.hpp"

using namespace vstar;
using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

struct Clip {
  std::string file, label, path;
};

std::vector<Json> Records(const test::RunResult& r) {
  std::vector<Json> out;
  for (const auto& l : test::Lines(r.out)) out.push_back(Json::parse(l));
  return out;
}

std::string Jsonl(const std::vector<Json>& recs) {
  std::string s;
  for (const auto& r : recs) s += r.dump() + "\n";
  return s;
}

// Runs a stage and requires exit 0 and one output record per input record.
std::vector<Json> Stage(const std::vector<std::string>& argv, const std::string& input, size_t expect) {
  auto r = test::Run(argv, input);
  INFO(argv[0] << " stderr:\n" << r.err);
  REQUIRE(r.status == 0);
  auto recs = Records(r);
  REQUIRE(recs.size() == expect);
  for (const auto& rec : recs) CHECK_FALSE(rec.contains("error"));
  return recs;
}

}  // namespace

TEST_CASE("manifest to evaluation report on real clips, both profiles, all tool modes", "[pipeline]") {
  VSTAR_REQUIRE_SHARED("assets/videos/hmdb51/RATRACE_wave_f_nm_np1_fr_goo_37.avi");
  VSTAR_REQUIRE_SHARED("reference/official/templates/eval.turn2.txt");
  VSTAR_REQUIRE_FILE(test::SimplePoseModel(), test::kSimplePoseHow);
  const fs::path videos = test::SharedDir() / "assets" / "videos" / "hmdb51";
  const std::vector<Clip> clips = {
      {"RATRACE_wave_f_nm_np1_fr_goo_37.avi", "wave", "wave/RATRACE_wave_f_nm_np1_fr_goo_37.avi"},
      {"hmdb51_Turnk_r_Pippi_Michel_cartwheel_f_cm_np2_le_med_6.avi", "cartwheel",
       "cartwheel/hmdb51_Turnk_r_Pippi_Michel_cartwheel_f_cm_np2_le_med_6.avi"},
      {"SchoolRulesHowTheyHelpUs_wave_f_nm_np1_ba_med_0.avi", "wave",
       "wave/SchoolRulesHowTheyHelpUs_wave_f_nm_np1_ba_med_0.avi"}};
  const auto dir = test::TempDir("pipeline");
  const fs::path model = test::FixtureDir() / "model" / "tiny" / "model";

  // Manifest and class lists (ours: plain names; the authors' form: a class dict).
  std::vector<Json> manifest;
  for (size_t i = 0; i < clips.size(); ++i)
    manifest.push_back({{"id", "c" + std::to_string(i)},
                        {"video", (videos / clips[i].file).string()},
                        {"label", clips[i].label},
                        {"path", clips[i].path}});
  const fs::path classes = dir / "classes.txt";
  test::WriteFile(classes, "brush_hair\ncartwheel\nkick_ball\nwave\n");
  const fs::path dict = dir / "classes.json";
  test::WriteFile(dict, R"({"0": "Brush hair: a brush moves through the hair", "1": "Cartwheel: rolling sideways over the hands", "2": "Kick ball: a foot strikes a ball", "3": "Wave: a raised hand swings"})");

  // Decode, detect, pose.
  auto decoded = Stage({"vs-decode", "--sample", "uniform:4", "--resize", "qwen", "--progress", "never"},
                       Jsonl(manifest), clips.size());
  for (const auto& r : decoded) CHECK(r["frames"]["paths"].size() == 4);
  auto detected = Stage({"vs-detect", "--plugin", "hog", "--overlay", "bound", "--progress", "never"}, Jsonl(decoded),
                        clips.size());
  for (const auto& r : detected) CHECK(r["detect"]["overlays"]["bound"].size() == 4);
  auto tooled = Stage({"vs-pose", "--plugin", "topdown", "--model", test::SimplePoseModel().string(), "--overlay",
                       "pose", "--overlay", "po", "--progress", "never"},
                      Jsonl(detected), clips.size());
  for (const auto& r : tooled) CHECK(r["pose"]["frames"].size() == 4);

  // Class explanations (local knowledge base) as vs-policy's candidate list.
  auto explained = Stage({"vs-explain", "--what", "classes", "--classes", classes.string(), "--progress", "never"}, "", 4);
  CHECK(explained[0]["class"] == "brush_hair");
  const fs::path cands = dir / "candidates.jsonl";
  test::WriteFile(cands, Jsonl(explained));

  const std::vector<std::string> base = {"vs-policy", "--model", model.string(), "--dtype", "fp32", "--device", "cpu",
                                         "--max-new-tokens", "8", "--video-max-pixels", "25088", "--progress",
                                         "never", "--keep-prompts", "--batch", "2"};
  auto policy = [&](std::vector<std::string> extra, const std::vector<Json>& in) {
    auto argv = base;
    argv.insert(argv.end(), extra.begin(), extra.end());
    return Stage(argv, Jsonl(in), in.size());
  };
  auto check_common = [&](const std::vector<Json>& out, const std::string& mode) {
    for (size_t i = 0; i < out.size(); ++i) {
      INFO(out[i].dump(2));
      const Json& p = out[i]["policy"];
      CHECK(out[i]["id"] == manifest[i]["id"]);
      CHECK(p["tools_mode"] == mode);
      CHECK(p["turn1"]["text"].is_string());
      CHECK(p["turn2"]["text"].is_string());
      CHECK(p["turn2"]["tokens"].get<int>() >= 1);
      for (const char* k : {"turn1_s", "tools_s", "turn2_s", "total_s"}) CHECK(p["timing"][k].get<double>() >= 0);
      CHECK(p["turn1"]["seconds"].get<double>() > 0);
      CHECK(p.contains("mapped"));
      CHECK(p["unmapped"] == p["mapped"].is_null());
      for (auto& [tool, rep] : p["tools"].items()) {
        if (mode == "none") CHECK(rep["used"] == false);
        if (mode == "all") CHECK(rep["chosen"] == true);
        if (rep["used"] == true) CHECK(rep["chosen"] == true);
      }
    }
  };

  // Clean profile: turn 2 really sees the overlays; nothing outside the candidate list names the label.
  std::map<std::string, std::vector<Json>> clean;
  for (std::string mode : {"dynamic", "all", "none"}) {
    clean[mode] = policy({"--profile", "clean", "--candidates", cands.string(), "--tools", mode}, tooled);
    check_common(clean[mode], mode);
    for (size_t i = 0; i < clean[mode].size(); ++i) {
      const Json& p = clean[mode][i]["policy"];
      std::string seen = p["turn1"]["prompt"].get<std::string>() + p["turn2"]["prompt"].get<std::string>();
      auto list_at = seen.find("brush_hair");
      REQUIRE(list_at != std::string::npos);
      std::string outside = recog::Lower(seen.substr(0, list_at));
      for (const std::string& leak : {clips[i].file, clips[i].path, std::string("hmdb51"), std::string(".avi")})
        CHECK(recog::Lower(seen).find(recog::Lower(leak)) == std::string::npos);
      CHECK(outside.find(clips[i].label) == std::string::npos);
    }
  }
  for (const auto& r : clean["all"]) {
    const Json& t = r["policy"]["tools"];
    CHECK(t["detect"]["source"] == "record");
    CHECK(t["pose"]["source"] == "record");
    CHECK(t["describe"]["source"] == "unavailable");  // no explain.video upstream, no --describer
    CHECK(r["policy"]["turn2_frames"] == "pose");
  }
  for (const auto& r : clean["none"]) CHECK(r["policy"]["turn2_frames"] == "original");
  // Tools run in process when the records carry no upstream output.
  auto fresh = policy({"--profile", "clean", "--candidates", classes.string(), "--tools", "all"}, decoded);
  for (const auto& r : fresh) {
    CHECK(r["policy"]["tools"]["detect"]["source"] == "ran");
    CHECK(r["policy"]["tools"]["explain"]["source"] == "ran");
    CHECK(r["policy"]["tools"]["pose"]["source"] == "unavailable");
    CHECK(r.contains("detect"));
  }

  // Official profile: the authors' templates, byte-identical turn-2 prompts.
  const fs::path templates = test::SharedDir() / "reference" / "official" / "templates";
  std::map<std::string, std::vector<Json>> official;
  recog::ProfileOptions po;
  po.profile = "official";
  po.templates = templates.string();
  po.annotated_root = "/data/hmdb51_pose";
  const recog::Profile profile = po.Load();
  const recog::ClassList list = recog::LoadClassList(dict);
  for (std::string mode : {"dynamic", "all", "none"}) {
    official[mode] = policy({"--profile", "official", "--templates", templates.string(), "--annotated-root",
                             "/data/hmdb51_pose", "--candidates", dict.string(), "--tools", mode},
                            tooled);
    check_common(official[mode], mode);
    for (size_t i = 0; i < official[mode].size(); ++i) {
      const Json& p = official[mode][i]["policy"];
      CHECK(p["turn1"]["prompt"] == profile.turn1_template);
      recog::Turn2Input in;
      in.candidates = &list;
      for (const char* t : {"pose", "detect", "explain"}) in.tools.use[t] = p["tools"][t]["used"].get<bool>();
      in.path = clips[i].path;
      CHECK(p["turn2"]["prompt"].get<std::string>() == recog::RenderTurn2(profile, in));
      CHECK(p["turn2_frames"] == "original");
      if (mode == "all") CHECK(p["turn2"]["prompt"].get<std::string>().find("Wave: a raised hand swings") != std::string::npos);
      if (mode == "none") CHECK(p["turn2"]["prompt"].get<std::string>().find("\nWave.") != std::string::npos);
    }
  }

  // Rewards and the evaluation report.
  auto rewarded = Stage({"vs-reward", "--variant", "paper", "--classes", classes.string(), "--progress", "never"},
                        Jsonl(clean["dynamic"]), clips.size());
  for (const auto& r : rewarded) CHECK(r["reward"]["completions"].size() == 1);
  auto off = Stage({"vs-reward", "--variant", "official", "--templates", templates.string(), "--progress", "never"},
                   Jsonl(official["dynamic"]), clips.size());
  for (const auto& r : off) CHECK(r["reward"]["variant"] == "official");
  const fs::path preds = dir / "clean-dynamic.jsonl";
  test::WriteFile(preds, Jsonl(rewarded));
  const fs::path report = dir / "report.json";
  auto ev = test::Run({"vs-eval", preds.string(), "--classes", classes.string(), "--json", report.string()});
  INFO(ev.err);
  REQUIRE(ev.status == 0);
  Json rep = Json::parse(test::ReadFile(report));
  REQUIRE(rep["runs"].size() == 1);
  const Json& file = rep["runs"][0]["files"][0];
  CHECK(file["total"] == clips.size());
  CHECK(file["accuracy_strict"].get<double>() >= 0);
  CHECK(file["accuracy_strict"].get<double>() <= 1);
}
