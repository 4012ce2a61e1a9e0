// The `local` knowledge base: every HMDB-51 and UCF-101 class has a definition; unknown names get the
// nearest entries (marked) or nothing, never an invented definition.
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "net/classlist.hpp"
#include "net/kb.hpp"
#include "support.hpp"

using namespace vstar;

namespace {

plugin::Config ShareConfig() {
  plugin::Config c;
  c.kind = plugin::Kind::kExplain;
  c.share_dir = (test::SourceDir() / "share" / "vstar").string();
  return c;
}

std::vector<std::string> Lines(const std::filesystem::path& p) {
  std::vector<std::string> out;
  for (const auto& e : net::ReadClassList(p)) out.push_back(e.name);
  return out;
}

}  // namespace

TEST_CASE("kb: name normalisation and tokenising") {
  CHECK(net::NormaliseName("Brush_hair") == "brushhair");
  CHECK(net::NormaliseName("brush hair") == net::NormaliseName("BrushHair"));
  CHECK(net::NormaliseName("Yo-Yo!") == "yoyo");
  CHECK(net::Tokenise("ApplyEyeMakeup") == std::vector<std::string>{"apply", "eye", "makeup"});
  CHECK(net::Tokenise("Jumping jacks") == std::vector<std::string>{"jump", "jack"});
  CHECK(net::Tokenise("swinging the bat") == std::vector<std::string>{"swing", "bat"});
}

TEST_CASE("kb: every class of our HMDB-51 and UCF-101 lists has an exact definition") {
  net::LocalExplainer local(ShareConfig());
  auto hmdb = Lines(test::SourceDir() / "share/vstar/classes/hmdb51.txt");
  auto ucf = Lines(test::SourceDir() / "share/vstar/classes/ucf101.txt");
  CHECK(hmdb.size() == 51);
  CHECK(ucf.size() == 101);
  std::vector<std::string> all = hmdb;
  all.insert(all.end(), ucf.begin(), ucf.end());
  auto texts = local.Explain(all);
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
  net::LocalExplainer local(ShareConfig());
  auto dir = test::SharedDir() / "assets/classlists";
  for (const char* rel : {"mmaction2/hmdb51_label_map.txt", "mmaction2/ucf101_label_map.txt",
                          "video_star/json_split/hmdb51/hmdb_rephrased_classes.json",
                          "video_star/json_split/ucf101/ucf101_rephrased_classes.json",
                          "vifi_clip/labels/hmdb_51_labels.csv", "vifi_clip/labels/ucf_101_labels.csv"}) {
    auto entries = net::ReadClassList(dir / rel);
    std::vector<std::string> names;
    for (const auto& e : entries) names.push_back(e.name);
    auto texts = local.Explain(names);
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
  net::LocalExplainer local(ShareConfig());
  auto t = local.Explain({"swimming backstroke", "Xyzzy frobnicate", "Playing Ukulele: strumming a small guitar"});
  // Nearest: marked as such in text and source, and names real entries only.
  CHECK(t[0].found);
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
  net::LocalExplainer strict(c);
  CHECK(strict.Explain({"swimming backstroke"})[0].source == "local:none");
}

TEST_CASE("kb: malformed knowledge bases are rejected with file:line") {
  auto dir = test::TempDir("kb-bad");
  auto write = [&](const std::string& name, const std::string& text) {
    test::WriteFile(dir / name, text);
    return dir / name;
  };
  CHECK_THROWS_WITH(net::KnowledgeBase::Load(write("cols.tsv", "# c\nrun\tArms: swing\n")),
                    Catch::Contains("cols.tsv:2") && Catch::Contains("3 TAB-separated"));
  CHECK_THROWS_WITH(net::KnowledgeBase::Load(write("empty.tsv", "run\t\t \n")), Catch::Contains("empty definition"));
  CHECK_THROWS_WITH(net::KnowledgeBase::Load(write("dup.tsv", "run\t\tLegs: stride\nsprint\tRun\tLegs: fast\n")),
                    Catch::Contains("dup.tsv:2") && Catch::Contains("already belongs to 'run'"));
  CHECK_THROWS_WITH(net::KnowledgeBase::Load(dir / "absent.tsv"), Catch::Contains("cannot open"));
  auto kb = net::KnowledgeBase::Load(write("ok.tsv", "run\tjog, sprint\tLegs: stride fast\n"));
  REQUIRE(kb.Find("JOG") != nullptr);
  CHECK(kb.Find("jog")->name == "run");
}

TEST_CASE("classlist: names, name: description lines, JSON dicts and arrays, CSV") {
  auto plain = net::ParseClassList("# comment\nbrush_hair\n\ncartwheel\n", "t");
  REQUIRE(plain.size() == 2);
  CHECK(plain[1].name == "cartwheel");
  CHECK(plain[1].key == "1");
  auto described = net::ParseClassList("Brush hair: A person brushes: carefully\n", "t");
  CHECK(described[0].name == "Brush hair");
  CHECK(described[0].description == "A person brushes: carefully");
  auto dict = net::ParseClassList(R"({"0": "Brush hair: uses a brush", "1": "Cartwheel"})", "t");
  CHECK(dict[0].key == "0");
  CHECK(dict[0].description == "uses a brush");
  CHECK(dict[1].description.empty());
  auto named = net::ParseClassList(R"({"Run": "moves fast"})", "t");
  CHECK(named[0].name == "Run");
  CHECK(named[0].description == "moves fast");
  auto arr = net::ParseClassList(R"(["a", {"name": "b", "description": "d"}])", "t");
  CHECK(arr[1].description == "d");
  auto csv = net::ParseClassList("id,name\n0,brush hair\n1,cartwheel\n", "t");
  CHECK(csv[1].name == "cartwheel");
  CHECK(csv[1].key == "1");
  CHECK_THROWS_WITH(net::ParseClassList("{\"0\": 3}", "x.json"), Catch::Contains("x.json"));
  CHECK_THROWS_WITH(net::ParseClassList("[1]", "x.json"), Catch::Contains("array item 0"));
  CHECK_THROWS_WITH(net::ParseClassList("{", "x.json"), Catch::Contains("invalid JSON"));
  CHECK_THROWS_WITH(net::ParseClassList("\n# only\n", "x.txt"), Catch::Contains("no classes"));
  CHECK_THROWS_WITH(net::ParseClassList(": orphan\n", "x.txt"), Catch::Contains("x.txt:1"));
}
