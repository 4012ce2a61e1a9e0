// The `precomputed` plugin (plugins/precomputed, loaded through the real plugin loader): descriptions
// keyed by path/problem_id, class texts by name.
#include <nlohmann/json.hpp>

#include "support.hpp"
#include "tools/plugins.hpp"

using namespace vstar;

namespace {

std::vector<std::filesystem::path> BuildPlugins() { return {test::BinaryDir() / "lib" / "vstar" / "plugins"}; }

std::unique_ptr<plugin::Describer> Describer(const std::string& files) {
  plugin::Config c;
  c.kind = plugin::Kind::kDescribe;
  c.values["descriptions"] = files;
  return tools::LoadAs<plugin::Describer>("precomputed", BuildPlugins(), c);
}

// How many texts the describer loaded, as its Info reports it ("... (N loaded)").
bool Loaded(const plugin::Describer& d, size_t n) {
  return d.info().description.find("(" + std::to_string(n) + " loaded)") != std::string::npos;
}

}  // namespace

TEST_CASE("precomputed: descriptions match by path, trailing path, and problem_id") {
  auto dir = test::TempDir("pre");
  test::WriteFile(dir / "a_description.json", R"([
    {"path": "brush_hair/clip_0.avi", "problem_id": 1, "analysis": "Arms lift a brush."},
    {"path": "cartwheel/clip_0.avi", "problem_id": 2, "analysis": "The body wheels sideways."}
  ])");
  auto d = Describer((dir / "a_description.json").string());
  CHECK(Loaded(*d, 2));
  CHECK(d->Describe("brush_hair/clip_0.avi", {}).text == "Arms lift a brush.");
  auto t = d->Describe("/data/hmdb51/cartwheel/clip_0.avi", {});
  CHECK(t.found);
  CHECK(t.text == "The body wheels sideways.");
  CHECK(t.source.find("a_description.json") != std::string::npos);
  CHECK(d->Describe("2", {}).text == "The body wheels sideways.");
  // "clip_0.avi" alone names two different texts: ambiguous, so no match.
  auto amb = d->Describe("clip_0.avi", {});
  CHECK_FALSE(amb.found);
  CHECK(amb.source == "precomputed:none");
  CHECK_FALSE(d->Describe("walk/other.avi", {}).found);
}

TEST_CASE("precomputed: JSONL input, bad files, and class texts") {
  auto dir = test::TempDir("pre2");
  test::WriteFile(dir / "d.jsonl", "{\"id\": \"v1\", \"description\": \"Legs run.\"}\n\n");
  auto d = Describer((dir / "d.jsonl").string());
  CHECK(d->Describe("v1", {}).text == "Legs run.");
  test::WriteFile(dir / "bad.json", "[{\"path\": ");
  CHECK_THROWS_WITH(Describer((dir / "bad.json").string()),
                    Catch::Contains("bad.json") && Catch::Contains("invalid JSON"));
  // Without files the tool can be created (listing) but refuses to answer.
  CHECK_THROWS_WITH(Describer("")->Describe("v1", {}), Catch::Contains("descriptions=FILE"));

  // Class lists are read by the host's reader (plugin::Host::ReadClassList, the authors' dict here).
  test::WriteFile(dir / "classes.json", R"({"0": "Brush hair: A person is using a brush", "1": "Cartwheel"})");
  plugin::Config c;
  c.kind = plugin::Kind::kExplain;
  c.values["classes"] = (dir / "classes.json").string();
  auto e = tools::LoadAs<plugin::Explainer>("precomputed", BuildPlugins(), c);
  REQUIRE(e != nullptr);
  auto texts = e->Explain({"brush_hair", "Cartwheel", "Run"});
  CHECK(texts[0].text == "A person is using a brush");
  CHECK(texts[0].found);
  CHECK_FALSE(texts[1].found);  // the list gives no description for it
  CHECK_FALSE(texts[2].found);
  test::WriteFile(dir / "bad_classes.json", R"({"0": 3})");
  c.values["classes"] = (dir / "bad_classes.json").string();
  CHECK_THROWS_WITH(tools::LoadAs<plugin::Explainer>("precomputed", BuildPlugins(), c),
                    Catch::Contains("precomputed: class list") && Catch::Contains("bad_classes.json"));
}

TEST_CASE("precomputed: the authors' released description files load and answer by path") {
  VSTAR_REQUIRE_SHARED("reference/official/data/json/hmdb51/test_description.json");
  auto file = test::SharedDir() / "reference/official/data/json/hmdb51/test_description.json";
  auto items = nlohmann::json::parse(test::ReadFile(file));
  auto d = Describer(file.string());
  CHECK(Loaded(*d, items.size()));
  for (size_t i : {size_t{0}, items.size() / 2, items.size() - 1}) {
    auto t = d->Describe("/videos/hmdb51/" + items[i]["path"].get<std::string>(), {});
    CHECK(t.found);
    CHECK(t.text == items[i]["analysis"].get<std::string>());
  }
}
