// The synthetic action world: its class catalogue (compositional base/novel split), the poses it
// renders (time order matters), vs-synth's files (reproducible, vs-import formats, decodable by
// vs-decode), and the teacher's sub-motion ranking.
#include <algorithm>
#include <set>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support.hpp"
#include "synth/actions.hpp"
#include "synth/rank.hpp"
#include "synth/render.hpp"

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;
using namespace vstar::synth;
using vstar::test::Run;

namespace {

double PelvisHeight(const ActionClass& c, double t) {
  Nuisance still;  // no timing nuisances
  return Solve(PoseAt(MakeTimeline(c, still), t)).pelvis.y;
}

std::vector<Json> ReadJsonl(const fs::path& p) {
  std::vector<Json> out;
  for (const auto& line : vstar::test::Lines(vstar::test::ReadFile(p))) out.push_back(Json::parse(line));
  return out;
}

fs::path World(const std::string& tag, const std::vector<std::string>& extra) {
  fs::path dir = vstar::test::TempDir(tag) / "world";
  std::vector<std::string> argv = {"vs-synth", "--out", dir.string(), "--per-class", "2", "--seconds", "1.5",
                                   "--size", "128x128", "--seed", "7", "--progress", "never"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto r = Run(argv);
  INFO(r.err);
  REQUIRE(r.status == 0);
  REQUIRE(r.out.empty());  // files only; stdout carries records alone
  CHECK(r.err.find("clips of") != std::string::npos);
  return dir;
}

}  // namespace

TEST_CASE("synth catalogue: 12+ classes with definitions, both splits, unique names", "[synth]") {
  const auto& cat = Catalogue();
  REQUIRE(cat.size() >= 12);
  std::set<std::string> names, folders;
  size_t novel = 0;
  for (const auto& c : cat) {
    INFO(c.name);
    CHECK(names.insert(c.name).second);
    CHECK(folders.insert(c.folder).second);
    CHECK(c.definition.find(':') != std::string::npos);  // "Part: movement" form
    CHECK_FALSE(c.steps.empty());
    CHECK(FindClass(c.folder) == &c);
    novel += c.novel;
  }
  CHECK(novel >= 4);
  CHECK(cat.size() - novel >= 6);
}

TEST_CASE("synth catalogue: every novel class is a new composition of base sub-motions", "[synth]") {
  std::set<std::string> base_keys;
  std::vector<std::set<std::string>> base_sets;
  for (const auto& c : Catalogue()) {
    if (c.novel) continue;
    auto keys = SubMotionKeys(c);
    base_keys.insert(keys.begin(), keys.end());
    base_sets.emplace_back(keys.begin(), keys.end());
  }
  for (const auto& c : Catalogue()) {
    if (!c.novel) continue;
    INFO(c.name);
    auto keys = SubMotionKeys(c);
    std::set<std::string> mine(keys.begin(), keys.end());
    for (const auto& k : keys) {
      INFO(k);
      CHECK(base_keys.count(k) == 1);  // decomposition can transfer: every part was seen in training
    }
    for (const auto& b : base_sets) CHECK(b != mine);  // and the combination is new
    // The label alone does not name it: no novel class shares its name with a base class's.
    for (const auto& other : Catalogue())
      if (!other.novel) CHECK(other.name != c.name);
  }
}

TEST_CASE("synth poses: sit down and stand up are the same parts in opposite order", "[synth]") {
  const ActionClass* sit = FindClass("Sit down");
  const ActionClass* stand = FindClass("Stand up");
  REQUIRE(sit);
  REQUIRE(stand);
  CHECK(PelvisHeight(*sit, 0.0) > PelvisHeight(*sit, 1.0) + 0.1);
  CHECK(PelvisHeight(*stand, 0.0) + 0.1 < PelvisHeight(*stand, 1.0));
  CHECK(PelvisHeight(*sit, 0.0) == Approx(PelvisHeight(*stand, 1.0)).margin(1e-6));
  // A squat goes down and comes back up, twice.
  const ActionClass* squat = FindClass("squat");
  REQUIRE(squat);
  CHECK(PelvisHeight(*squat, 0.3) + 0.1 < PelvisHeight(*squat, 0.0));
  CHECK(PelvisHeight(*squat, 0.5) == Approx(PelvisHeight(*squat, 0.0)).margin(0.01));
  CHECK(PelvisHeight(*squat, 0.72) + 0.1 < PelvisHeight(*squat, 0.0));
}

TEST_CASE("synth poses: feet stay on the ground unless the class hops", "[synth]") {
  Nuisance still;
  for (const auto& c : Catalogue()) {
    INFO(c.name);
    bool hops = std::any_of(c.steps.begin(), c.steps.end(), [](const Step& s) { return s.move == Move::kHop; });
    double highest = 0;
    for (int i = 0; i <= 40; ++i) {
      Joints j = Solve(PoseAt(MakeTimeline(c, still), i / 40.0));
      double foot = std::min(j.ankle[kLeft].y, j.ankle[kRight].y) - Body().ankle_height;
      CHECK(foot >= -1e-9);
      highest = std::max(highest, foot);
    }
    if (hops) CHECK(highest > 0.05);
    else CHECK(highest < 1e-9);
  }
}

TEST_CASE("teacher ranking: sub-motions no other candidate has come first", "[synth]") {
  auto ranked = RankSubMotions({"a", "b", "c", "a"}, {{"b", "c"}, {"c"}});
  REQUIRE(ranked.size() == 3);
  CHECK(ranked[0].key == "a");
  CHECK(ranked[0].shared == 0);
  CHECK(ranked[0].score == 1.0);
  CHECK(ranked[1].key == "b");
  CHECK(ranked[1].score == 0.5);
  CHECK(ranked[2].key == "c");
  CHECK(ranked[2].score == 0.0);
  // Ties keep timeline order; no others means every sub-motion is telling.
  auto alone = RankSubMotions({"x", "y"}, {});
  CHECK(alone[0].key == "x");
  CHECK(alone[1].score == 1.0);

  // On a clip's ground truth: a wave among clap and punch is told apart by its forearm, not its legs.
  Json truth = {{"label", "Wave"},
                {"timeline",
                 {{{"key", SubMotionKey(Move::kWave)}, {"side", "left"}}, {{"key", SubMotionKey(Move::kLegsStill)}}}}};
  auto r = RankTruthSubMotions(truth, {"Wave", "Clap", "Punch"});
  REQUIRE(r.size() == 2);
  CHECK(r[0].key == SubMotionKey(Move::kWave));
  CHECK(r[0].side == "left");
  CHECK(r[0].others == 2);
  CHECK(r[1].key == SubMotionKey(Move::kLegsStill));
  CHECK(r[1].shared == 2);
  // Sit down among stand up and squat: lowering is shared with squat only, still arms with stand up.
  Json sit = {{"label", "Sit down"},
              {"timeline", {{{"key", SubMotionKey(Move::kLower)}}, {{"key", SubMotionKey(Move::kArmsStill)}}}}};
  auto s = RankTruthSubMotions(sit, {"Stand up", "Squat", "Jumping jack"});
  CHECK(s[0].score == Approx(2.0 / 3));
  CHECK(s[1].score == Approx(2.0 / 3));
  CHECK(s[0].key == SubMotionKey(Move::kLower));  // tie: timeline order
  CHECK_THROWS_AS(RankTruthSubMotions(sit, {"Moonwalk"}), std::invalid_argument);
  CHECK_THROWS_AS(RankTruthSubMotions(Json{{"label", "Wave"}}, {"Clap"}), std::invalid_argument);
}

TEST_CASE("vs-synth: the same seed gives byte-identical files, another seed other videos", "[synth]") {
  VSTAR_REQUIRE_BINARY("vs-synth");
  const std::vector<std::string> classes = {"--classes", "wave,stand_up"};
  fs::path a = World("synth-seed-a", classes), b = World("synth-seed-b", classes);
  size_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(a)) {
    if (!e.is_regular_file()) continue;
    fs::path rel = fs::relative(e.path(), a);
    INFO(rel);
    REQUIRE(fs::exists(b / rel));
    CHECK(vstar::test::ReadFile(e.path()) == vstar::test::ReadFile(b / rel));
    ++files;
  }
  CHECK(files == 8 + 4);  // 8 dataset files and 2 clips of 2 classes
  fs::path c = vstar::test::TempDir("synth-seed-c") / "world";
  auto r = Run({"vs-synth", "--out", c.string(), "--per-class", "2", "--seconds", "1.5", "--size", "128x128",
                "--seed", "8", "--classes", "wave,stand_up", "--progress", "never"});
  REQUIRE(r.status == 0);
  CHECK(vstar::test::ReadFile(a / "videos/wave/wave_000.mp4") != vstar::test::ReadFile(c / "videos/wave/wave_000.mp4"));
  CHECK(vstar::test::ReadFile(a / "manifest.jsonl") == vstar::test::ReadFile(c / "manifest.jsonl"));
}

TEST_CASE("vs-synth: files in vs-import's formats, ground truth kept out of the manifest", "[synth]") {
  VSTAR_REQUIRE_BINARY("vs-synth");
  fs::path w = World("synth-files", {"--classes", "wave,cheer,squat"});
  auto manifest = ReadJsonl(w / "manifest.jsonl");
  REQUIRE(manifest.size() == 6);
  for (const auto& rec : manifest) {
    INFO(rec.dump());
    CHECK(rec.size() == 5);  // id, video, label, split, path: no truth, no nuisances
    CHECK(fs::exists(w / rec["video"].get<std::string>()));
  }
  CHECK(manifest[0]["id"] == "wave/wave_000");
  CHECK(manifest[0]["split"] == "base");
  CHECK(vstar::test::ReadFile(w / "base.txt") == "Wave\nSquat\n");
  CHECK(vstar::test::ReadFile(w / "novel.txt") == "Cheer\n");
  CHECK(vstar::test::ReadFile(w / "classes.txt") == "Wave\nSquat\nCheer\n");
  // vs-import folders over the videos with folders.tsv gives the same ids, labels and paths.
  auto imported = Run({"vs-import", "folders", (w / "videos").string(), "--names", (w / "folders.tsv").string(),
                       "--root", w.string()});
  REQUIRE(imported.status == 0);
  auto lines = vstar::test::Lines(imported.out);
  REQUIRE(lines.size() == manifest.size());
  std::set<std::string> ours, theirs;
  for (size_t i = 0; i < lines.size(); ++i) {
    Json j = Json::parse(lines[i]);
    theirs.insert(j["id"].get<std::string>() + "|" + j["label"].get<std::string>() + "|" + j["video"].get<std::string>());
    ours.insert(manifest[i]["id"].get<std::string>() + "|" + manifest[i]["label"].get<std::string>() + "|" +
                manifest[i]["video"].get<std::string>());
  }
  CHECK(ours == theirs);
  auto truth = ReadJsonl(w / "truth.jsonl");
  REQUIRE(truth.size() == 6);
  for (const auto& t : truth) {
    CHECK(t["keypoints"].size() == t["frames"].get<size_t>());
    CHECK(t["keypoints"][0].size() == 17);
    CHECK(t["boxes"].size() == t["frames"].get<size_t>());
    CHECK_FALSE(t["timeline"].empty());
  }
  auto defs = vstar::test::ReadFile(w / "definitions.tsv");
  CHECK(defs.find("Cheer\tcheer\tArms: held overhead") != std::string::npos);
  auto sub = Json::parse(vstar::test::ReadFile(w / "submotions.json"));
  CHECK(sub.size() == 3);
  // Unknown classes and bad sizes are usage errors.
  CHECK(Run({"vs-synth", "--out", (w / "x").string(), "--classes", "moonwalk"}).status == 2);
  CHECK(Run({"vs-synth", "--out", (w / "x").string(), "--size", "127x128"}).status == 2);
}

TEST_CASE("vs-synth: clips decode with vs-decode like any dataset", "[synth]") {
  VSTAR_REQUIRE_BINARY("vs-synth");
  VSTAR_REQUIRE_BINARY("vs-decode");
  fs::path w = World("synth-decode", {"--classes", "clap,kick", "--fps", "8"});
  auto r = Run({"vs-decode", "--root", w.string(), "--sample", "all", "--resize", "none", "-i",
                (w / "manifest.jsonl").string()});
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto truth = ReadJsonl(w / "truth.jsonl");
  auto lines = vstar::test::Lines(r.out);
  REQUIRE(lines.size() == truth.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    Json rec = Json::parse(lines[i]);
    INFO(rec.dump());
    REQUIRE(rec.contains("frames"));
    CHECK(rec["frames"]["total"] == truth[i]["frames"]);
    CHECK(rec["frames"]["width"] == 128);
    CHECK(rec["frames"]["height"] == 128);
    CHECK(rec["frames"]["fps"].get<double>() == Approx(8));
    CHECK(rec["frames"]["paths"].size() == truth[i]["frames"].get<size_t>());
  }
}

TEST_CASE("synth definitions: the shared file is the catalogue's, and the local explainer reads it", "[synth]") {
  VSTAR_REQUIRE_BINARY("vs-synth");
  VSTAR_REQUIRE_BINARY("vs-explain");
  fs::path w = vstar::test::TempDir("synth-defs") / "world";
  REQUIRE(Run({"vs-synth", "--out", w.string(), "--per-class", "1", "--seconds", "0.5", "--progress", "never"}).status == 0);
  const fs::path shared = vstar::test::SourceDir() / "share/vstar/synth/definitions.tsv";
  CHECK(vstar::test::ReadFile(shared) == vstar::test::ReadFile(w / "definitions.tsv"));
  auto r = Run({"vs-explain", "--what", "classes", "--classes", (w / "classes.txt").string(), "--plugin", "local",
                "--plugin-opt", "kb=" + shared.string()});
  INFO(r.err);
  REQUIRE(r.status == 0);
  auto lines = vstar::test::Lines(r.out);
  REQUIRE(lines.size() == Catalogue().size());
  for (size_t i = 0; i < lines.size(); ++i) {
    Json rec = Json::parse(lines[i]);
    INFO(rec.dump());
    CHECK(rec["explain"]["found"] == true);
    CHECK(rec["explain"]["text"] == Catalogue()[i].definition);
  }
}

TEST_CASE("vs-synth: --candidates-per-clip gives each record its class among K shuffled others", "[synth]") {
  VSTAR_REQUIRE_BINARY("vs-synth");
  fs::path w = World("synth-cands", {"--classes", "wave,clap,squat,kick,bow", "--candidates-per-clip", "3"});
  auto manifest = ReadJsonl(w / "manifest.jsonl");
  REQUIRE(manifest.size() == 10);
  std::set<std::string> firsts;
  for (const auto& rec : manifest) {
    INFO(rec.dump());
    const auto& c = rec["candidates"];
    REQUIRE(c.size() == 3);
    CHECK(std::count(c.begin(), c.end(), rec["label"]) == 1);
    CHECK(std::set<std::string>(c.begin(), c.end()).size() == 3);
    firsts.insert(c[0].get<std::string>());
  }
  CHECK(firsts.size() > 1);  // the order changes from clip to clip
  // Seeded: a second world with the same options has the same lists.
  CHECK(vstar::test::ReadFile(w / "manifest.jsonl") ==
        vstar::test::ReadFile(World("synth-cands-2", {"--classes", "wave,clap,squat,kick,bow", "--candidates-per-clip", "3"}) /
                              "manifest.jsonl"));
}

TEST_CASE("vs-synth: --candidates-min gives lists of every length from the minimum to K",
          "[synth]") {
  VSTAR_REQUIRE_BINARY("vs-synth");
  fs::path w = World("synth-cands-min", {"--classes", "wave,clap,squat,kick,bow",
                                         "--candidates-per-clip", "5", "--candidates-min", "2"});
  std::set<size_t> lengths;
  for (const auto& rec : ReadJsonl(w / "manifest.jsonl")) {
    INFO(rec.dump());
    const auto& c = rec["candidates"];
    CHECK(std::count(c.begin(), c.end(), rec["label"]) == 1);
    lengths.insert(c.size());
  }
  CHECK(lengths == std::set<size_t>{2, 3, 4, 5});
  auto bad = vstar::test::Run({"vs-synth", "--out",
                               (vstar::test::TempDir("synth-cands-bad") / "w").string(),
                               "--candidates-per-clip", "3", "--candidates-min", "4"});
  CHECK(bad.status == 2);
  CHECK(bad.err.find("--candidates-min") != std::string::npos);
}

TEST_CASE("vs-synth: --split base renders only the classes to train on and --split novel only the others", "[synth]") {
  VSTAR_REQUIRE_BINARY("vs-synth");
  fs::path base = World("synth-split-base", {"--split", "base"});
  fs::path novel = World("synth-split-novel", {"--split", "novel"});
  CHECK(vstar::test::ReadFile(base / "classes.txt") == vstar::test::ReadFile(base / "base.txt"));
  CHECK(vstar::test::ReadFile(base / "novel.txt").empty());
  CHECK(vstar::test::ReadFile(novel / "classes.txt") == vstar::test::ReadFile(novel / "novel.txt"));
  for (const auto& rec : ReadJsonl(base / "manifest.jsonl")) CHECK(rec["split"] == "base");
  for (const auto& rec : ReadJsonl(novel / "manifest.jsonl")) CHECK(rec["split"] == "novel");
  CHECK(Run({"vs-synth", "--out", (base / "x").string(), "--split", "base", "--classes", "cheer"}).status == 2);
}
