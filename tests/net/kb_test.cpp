// The `local` plugin (plugins/local, loaded through the real plugin loader): every HMDB-51 and UCF-101
// class has a definition; unknown names get the nearest entries (marked) or nothing, never an invented
// definition.
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "recog/classlist.hpp"
#include "support.hpp"
#include "tools/plugins.hpp"

using namespace vstar;

namespace {

plugin::Config ShareConfig() {
  plugin::Config c;
  c.kind = plugin::Kind::kExplain;
  c.share_dir = (test::SourceDir() / "share" / "vstar").string();
  return c;
}

// The build's plugin directory only, so an installed vstar-local.so can never answer instead.
std::unique_ptr<plugin::Explainer> Load(const std::string& name, const plugin::Config& c) {
  return tools::LoadAs<plugin::Explainer>(name, {test::BinaryDir() / "lib" / "vstar" / "plugins"}, c);
}
std::unique_ptr<plugin::Explainer> Local(const plugin::Config& c = ShareConfig()) { return Load("local", c); }

// The entry names of a "local:nearest:a|b|c" source.
std::set<std::string> Nearest(const std::string& source) {
  const std::string prefix = "local:nearest:";
  std::set<std::string> out;
  if (source.rfind(prefix, 0) != 0) return out;
  std::stringstream s(source.substr(prefix.size()));
  std::string name;
  while (std::getline(s, name, '|')) out.insert(name);
  return out;
}

std::vector<std::string> Lines(const std::filesystem::path& p) {
  return recog::LoadClassList(p).Names();
}

}  // namespace

TEST_CASE("kb: name normalisation and tokenising") {
  CHECK(plugin::NormaliseName("Brush_hair") == "brushhair");
  CHECK(plugin::NormaliseName("brush hair") == plugin::NormaliseName("BrushHair"));
  CHECK(plugin::NormaliseName("Yo-Yo!") == "yoyo");
  CHECK(plugin::SplitClassEntry(" Brush hair : uses: a brush ") ==
        std::pair<std::string, std::string>{"Brush hair", "uses: a brush"});
  // Tokenising, seen through retrieval over one-word entries: the nearest entries of a query are
  // exactly its words (camelCase humps split, "-ing" and plural "s" stripped, stop words such as
  // "the" dropped even when an entry is called that).
  auto dir = test::TempDir("kb-tokens");
  test::WriteFile(dir / "words.tsv",
                  "apply\t\tHands: press\neye\t\tLids: blink\nmakeup\t\tFace: colour\njump\t\tLegs: push\n"
                  "jack\t\tArms: lift\nswing\t\tTorso: turn\nbat\t\tFingers: grip\nthe\t\tMouth: speak\n");
  auto c = ShareConfig();
  c.values = {{"kb", (dir / "words.tsv").string()}, {"nearest", "10"}, {"min_score", "0"}};
  auto local = Local(c);
  auto t = local->Explain({"ApplyEyeMakeup", "Jumping jacks", "swinging the bat"});
  CHECK(Nearest(t[0].source) == std::set<std::string>{"apply", "eye", "makeup"});
  CHECK(Nearest(t[1].source) == std::set<std::string>{"jump", "jack"});
  CHECK(Nearest(t[2].source) == std::set<std::string>{"swing", "bat"});
}

TEST_CASE("kb: every class of our HMDB-51 and UCF-101 lists has an exact definition") {
  auto local = Local();
  auto hmdb = Lines(test::SourceDir() / "share/vstar/classes/hmdb51.txt");
  auto ucf = Lines(test::SourceDir() / "share/vstar/classes/ucf101.txt");
  CHECK(hmdb.size() == 51);
  CHECK(ucf.size() == 101);
  std::vector<std::string> all = hmdb;
  all.insert(all.end(), ucf.begin(), ucf.end());
  auto texts = local->Explain(all);
  REQUIRE(texts.size() == all.size());
  std::set<std::string> definitions;
  for (size_t i = 0; i < all.size(); ++i) {
    INFO(all[i]);
    CHECK(texts[i].found);
    CHECK(texts[i].source.rfind("local:exact:", 0) == 0);
    CHECK(texts[i].error.empty());
    // Body-part form: "Part: movement, Part: movement".
    CHECK(texts[i].text.find(':') != std::string::npos);
    definitions.insert(texts[i].source);
  }
  // Classes in both datasets (punch, fencing) share an entry; every other class has its own.
  CHECK(definitions.size() == all.size() - 2);
}

TEST_CASE("kb: the upstream class names (mmaction2 label maps, the authors' class dicts) all resolve") {
  VSTAR_REQUIRE_SHARED("assets/classlists/mmaction2/hmdb51_label_map.txt");
  auto local = Local();
  auto dir = test::SharedDir() / "assets/classlists";
  for (const char* rel : {"mmaction2/hmdb51_label_map.txt", "mmaction2/ucf101_label_map.txt",
                          "video_star/json_split/hmdb51/hmdb_rephrased_classes.json",
                          "video_star/json_split/ucf101/ucf101_rephrased_classes.json",
                          "vifi_clip/labels/hmdb_51_labels.csv", "vifi_clip/labels/ucf_101_labels.csv"}) {
    auto entries = recog::LoadClassList(dir / rel);
    std::vector<std::string> names = entries.Names();
    auto texts = local->Explain(names);
    for (size_t i = 0; i < names.size(); ++i) {
      INFO(rel << ": " << names[i]);
      CHECK(texts[i].source.rfind("local:exact:", 0) == 0);
    }
    CHECK((entries.size() == 51 || entries.size() == 101));
  }
}

TEST_CASE("kb: our lists match the mmaction2 label maps name for name") {
  VSTAR_REQUIRE_SHARED("assets/classlists/mmaction2/ucf101_label_map.txt");
  for (auto [ours, theirs] : {std::pair{"hmdb51.txt", "hmdb51_label_map.txt"}, {"ucf101.txt", "ucf101_label_map.txt"}}) {
    CHECK(Lines(test::SourceDir() / "share/vstar/classes" / ours) ==
          Lines(test::SharedDir() / "assets/classlists/mmaction2" / theirs));
  }
}

TEST_CASE("kb: unknown names get marked nearest entries, or none") {
  auto local = Local();
  auto t = local->Explain({"swimming backstroke", "Xyzzy frobnicate", "Playing Ukulele: strumming a small guitar"});
  // Nearest: offered but not found (it defines other actions), marked as such in text and source, and
  // names real entries only.
  CHECK_FALSE(t[0].found);
  CHECK(t[0].text.rfind("No definition of 'swimming backstroke' is known; nearest known actions:", 0) == 0);
  CHECK(t[0].source.rfind("local:nearest:", 0) == 0);
  CHECK((t[0].source.find("front crawl") != std::string::npos || t[0].source.find("breast stroke") != std::string::npos));
  // Nothing in common with any entry: an honest "no definition".
  CHECK_FALSE(t[1].found);
  CHECK(t[1].text.empty());
  CHECK(t[1].source == "local:none");
  // The description helps retrieval.
  CHECK(t[2].source.find("playing guitar") != std::string::npos);
  // nearest=0 turns retrieval off.
  auto c = ShareConfig();
  c.values["nearest"] = "0";
  auto strict = Local(c);
  CHECK(strict->Explain({"swimming backstroke"})[0].source == "local:none");
}

TEST_CASE("kb: malformed knowledge bases are rejected with file:line") {
  auto dir = test::TempDir("kb-bad");
  auto write = [&](const std::string& name, const std::string& text) {
    test::WriteFile(dir / name, text);
    return dir / name;
  };
  auto with_kb = [](const std::filesystem::path& file) {
    auto c = ShareConfig();
    c.values["kb"] = file.string();
    return c;
  };
  CHECK_THROWS_WITH(Local(with_kb(write("cols.tsv", "# c\nrun\tArms: swing\n"))),
                    Catch::Contains("cols.tsv:2") && Catch::Contains("3 TAB-separated"));
  CHECK_THROWS_WITH(Local(with_kb(write("empty.tsv", "run\t\t \n"))), Catch::Contains("empty definition"));
  CHECK_THROWS_WITH(Local(with_kb(write("dup.tsv", "run\t\tLegs: stride\nsprint\tRun\tLegs: fast\n"))),
                    Catch::Contains("dup.tsv:2") && Catch::Contains("already belongs to 'run'"));
  CHECK_THROWS_WITH(Local(with_kb(dir / "absent.tsv")), Catch::Contains("cannot open"));
  auto ok = Local(with_kb(write("ok.tsv", "run\tjog, sprint\tLegs: stride fast\n")));
  auto t = ok->Explain({"JOG", "jog"});
  CHECK(t[0].source == "local:exact:run");
  CHECK(t[1].source == "local:exact:run");
  CHECK(t[1].text == "Legs: stride fast");
}
