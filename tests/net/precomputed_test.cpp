// The `precomputed` plugin: descriptions keyed by path/problem_id, class texts by name.
#include <nlohmann/json.hpp>

#include "net/precomputed.hpp"
#include "support.hpp"

using namespace vstar;

namespace {

plugin::Config DescribeConfig(const std::string& files) {
  plugin::Config c;
  c.kind = plugin::Kind::kDescribe;
  c.values["descriptions"] = files;
  return c;
}

}  // namespace

TEST_CASE("precomputed: descriptions match by path, trailing path, and problem_id") {
  auto dir = test::TempDir("pre");
  test::WriteFile(dir / "a_description.json", R"([
    {"path": "brush_hair/clip_0.avi", "problem_id": 1, "analysis": "Arms lift a brush."},
    {"path": "cartwheel/clip_0.avi", "problem_id": 2, "analysis": "The body wheels sideways."}
  ])");
  net::PrecomputedDescriber d(DescribeConfig((dir / "a_description.json").string()));
  CHECK(d.size() == 2);
  CHECK(d.Describe("brush_hair/clip_0.avi", {}).text == "Arms lift a brush.");
  auto t = d.Describe("/data/hmdb51/cartwheel/clip_0.avi", {});
  CHECK(t.found);
  CHECK(t.text == "The body wheels sideways.");
  CHECK(t.source.find("a_description.json") != std::string::npos);
  CHECK(d.Describe("2", {}).text == "The body wheels sideways.");
  // "clip_0.avi" alone names two different texts: ambiguous, so no match.
  auto amb = d.Describe("clip_0.avi", {});
  CHECK_FALSE(amb.found);
  CHECK(amb.source == "precomputed:none");
  CHECK_FALSE(d.Describe("walk/other.avi", {}).found);
}

TEST_CASE("precomputed: JSONL input, bad files, and class texts") {
  auto dir = test::TempDir("pre2");
  test::WriteFile(dir / "d.jsonl", "{\"id\": \"v1\", \"description\": \"Legs run.\"}\n\n");
  net::PrecomputedDescriber d(DescribeConfig((dir / "d.jsonl").string()));
  CHECK(d.Describe("v1", {}).text == "Legs run.");
  test::WriteFile(dir / "bad.json", "[{\"path\": ");
  CHECK_THROWS_WITH(net::PrecomputedDescriber(DescribeConfig((dir / "bad.json").string())),
                    Catch::Contains("bad.json") && Catch::Contains("invalid JSON"));
  CHECK_THROWS_WITH(net::PrecomputedDescriber(DescribeConfig("")), Catch::Contains("descriptions=FILE"));

  test::WriteFile(dir / "classes.json", R"({"0": "Brush hair: A person is using a brush", "1": "Cartwheel"})");
  plugin::Config c;
  c.kind = plugin::Kind::kExplain;
  c.values["classes"] = (dir / "classes.json").string();
  auto tool = net::CreatePrecomputedTool(c);
  auto* e = dynamic_cast<plugin::Explainer*>(tool.get());
  REQUIRE(e != nullptr);
  auto texts = e->Explain({"brush_hair", "Cartwheel", "Run"});
  CHECK(texts[0].text == "A person is using a brush");
  CHECK(texts[0].found);
  CHECK_FALSE(texts[1].found);  // the list gives no description for it
  CHECK_FALSE(texts[2].found);
}

TEST_CASE("precomputed: the authors' released description files load and answer by path") {
  VSTAR_REQUIRE_SHARED("reference/official/data/json/hmdb51/test_description.json");
  auto file = test::SharedDir() / "reference/official/data/json/hmdb51/test_description.json";
  auto items = nlohmann::json::parse(test::ReadFile(file));
  net::PrecomputedDescriber d(DescribeConfig(file.string()));
  CHECK(d.size() == items.size());
  for (size_t i : {size_t{0}, items.size() / 2, items.size() - 1}) {
    auto t = d.Describe("/videos/hmdb51/" + items[i]["path"].get<std::string>(), {});
    CHECK(t.found);
    CHECK(t.text == items[i]["analysis"].get<std::string>());
  }
}
