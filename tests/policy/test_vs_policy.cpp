// vs-policy: prompt templates and the pipeline over the tiny random model (tests/fixtures/model/tiny)
// with frames written by the test itself.
#include <fstream>

#include <nlohmann/json.hpp>

#include "policy/prompt.hpp"
#include "support.hpp"

using namespace vstar;
using Json = nlohmann::ordered_json;

namespace {

std::filesystem::path TinyModel() { return test::FixtureDir() / "model" / "tiny" / "model"; }

// Binary PPM (OpenCV reads it like any image file).
void WritePpm(const std::filesystem::path& p, int h, int w, int seed) {
  std::ofstream o(p, std::ios::binary);
  o << "P6\n" << w << " " << h << "\n255\n";
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const unsigned char px[3] = {static_cast<unsigned char>((x * 3 + y + seed * 40) % 256),
                                   static_cast<unsigned char>((y * 5 + seed * 17) % 256),
                                   static_cast<unsigned char>((x * y + seed) % 256)};
      o.write(reinterpret_cast<const char*>(px), 3);
    }
}

Json Frames(const std::filesystem::path& dir, const std::string& tag, int n, int seed) {
  Json paths = Json::array();
  for (int f = 0; f < n; ++f) {
    auto p = dir / (tag + std::to_string(f) + ".ppm");
    WritePpm(p, 56, 84, seed + f);
    paths.push_back(p.string());
  }
  return Json{{"paths", paths}, {"sample_fps", 2.0}};
}

}  // namespace

TEST_CASE("prompt templates fill record fields and place the video", "[policy]") {
  auto rec = Json::parse(R"({"id":"x","labels":["run","jump"],"meta":{"n":3,"who":"a man"},"nil":null})");
  auto t = policy::PromptTemplate::Parse("=== system ===\nYou label clips.\n=== user ===\nWho: {{meta.who}}.{{video}}Pick one of {{labels}} ({{meta.n}}, {{labels.1}}, {{nil|none}}, {{absent|n/a}}).");
  auto msgs = t.Render(rec);
  REQUIRE(msgs.size() == 2);
  CHECK(msgs[0].role == "system");
  CHECK(msgs[0].text == "You label clips.");
  REQUIRE(msgs[1].items.size() == 3);
  CHECK(msgs[1].items[0].text == "Who: a man.");
  CHECK(msgs[1].items[1].kind == model::ChatItem::Kind::kVideo);
  CHECK(msgs[1].items[2].text == "Pick one of run, jump (3, jump, none, n/a).");
  // Without {{video}} the video comes first; without sections everything is the user message.
  auto plain = policy::PromptTemplate::Parse("Describe {{id}}.\n").Render(rec);
  REQUIRE(plain.size() == 1);
  REQUIRE(plain[0].items.size() == 2);
  CHECK(plain[0].items[0].kind == model::ChatItem::Kind::kVideo);
  CHECK(plain[0].items[1].text == "Describe x.");
  CHECK_THROWS_AS(policy::PromptTemplate::Parse("Tell {{missing.field}}").Render(rec), policy::TemplateError);
  CHECK_THROWS_AS(policy::PromptTemplate::Parse("{{video}}{{video}}").Render(rec), policy::TemplateError);
  CHECK_THROWS_AS(policy::PromptTemplate::Parse("broken {{id").Render(rec), policy::TemplateError);
  CHECK_THROWS_AS(policy::PromptTemplate::Load("/nonexistent/template.txt"), policy::TemplateError);
}

TEST_CASE("vs-policy answers records with the tiny model, batching does not change answers", "[policy][pipeline]") {
  auto dir = test::TempDir("vs-policy");
  auto tmpl = dir / "prompt.txt";
  test::WriteFile(tmpl, "=== user ===\n{{video}}What is the {{subject|person}} doing?\n");
  std::string input;
  input += Json{{"id", "a"}, {"frames", Frames(dir, "a", 4, 1)}}.dump() + "\n";
  input += Json{{"id", "b"}, {"subject", "dog"}, {"frames", Frames(dir, "b", 3, 7)}}.dump() + "\n";
  input += Json{{"id", "c"}, {"note", "no frames"}}.dump() + "\n";
  input += Json{{"id", "d"}, {"frames", Frames(dir, "d", 2, 3)}}.dump() + "\n";
  const std::vector<std::string> base = {"vs-policy", "--model", TinyModel().string(), "--template", tmpl.string(),
                                         "--dtype", "fp32", "--max-new-tokens", "6", "--device", "cpu",
                                         "--progress", "never"};
  auto with = [&](std::vector<std::string> extra) {
    auto v = base;
    v.insert(v.end(), extra.begin(), extra.end());
    return v;
  };
  auto one = test::Run(with({"--batch", "1"}), input);
  auto three = test::Run(with({"--batch", "3"}), input);
  INFO(one.err << three.err);
  CHECK(one.status == 3);  // record c fails, the others pass
  CHECK(three.status == 3);
  auto l1 = test::Lines(one.out), l3 = test::Lines(three.out);
  REQUIRE(l1.size() == 4);
  REQUIRE(l3.size() == 4);
  const char* ids[] = {"a", "b", "c", "d"};
  for (size_t i = 0; i < 4; ++i) {
    auto r1 = Json::parse(l1[i]), r3 = Json::parse(l3[i]);
    CHECK(r1["id"] == ids[i]);
    if (i == 2) {
      CHECK(r1["error"]["stage"] == "vs-policy");
      CHECK(r1["note"] == "no frames");
      CHECK_FALSE(r1.contains("policy"));
      continue;
    }
    REQUIRE(r1.contains("policy"));
    const auto& p = r1["policy"];
    CHECK(p["response"].is_string());
    CHECK(p["tokens"].get<int>() >= 1);
    CHECK(p["tokens"].get<int>() <= 6);
    CHECK(p["prompt_tokens"].get<int>() > 20);
    CHECK(p["timing"]["prefill_s"].get<double>() > 0);
    CHECK(r1["frames"] == r3["frames"]);  // passed through
    CHECK(r1["policy"]["response"] == r3["policy"]["response"]);
    CHECK(r1["policy"]["tokens"] == r3["policy"]["tokens"]);
    // --batch 3 over a, b, c, d: c fails before generation, so a and b form a batch and d another.
    CHECK(r3["policy"]["timing"]["batch"] == (i == 3 ? 1 : 2));
  }
  // Different subjects give different prompts.
  CHECK(Json::parse(l1[0])["policy"]["prompt_tokens"] != Json::parse(l1[1])["policy"]["prompt_tokens"]);
}

TEST_CASE("vs-policy fails clearly without weights, template or flags", "[policy][pipeline]") {
  auto dir = test::TempDir("vs-policy-bad");
  auto tmpl = dir / "t.txt";
  test::WriteFile(tmpl, "{{video}}Describe.");
  auto missing = test::Run({"vs-policy", "--model", (dir / "nope").string(), "--template", tmpl.string()}, "");
  CHECK(missing.status == 1);
  CHECK_THAT(missing.err, Catch::Contains("does not exist"));
  std::filesystem::create_directories(dir / "empty");
  std::filesystem::copy_file(TinyModel() / "config.json", dir / "empty" / "config.json");
  auto noweights = test::Run({"vs-policy", "--model", (dir / "empty").string(), "--template", tmpl.string()}, "");
  CHECK(noweights.status == 1);
  CHECK_THAT(noweights.err, Catch::Contains("no weights"));
  auto notemplate = test::Run({"vs-policy", "--model", TinyModel().string(), "--template", (dir / "x.txt").string()}, "");
  CHECK(notemplate.status == 1);
  CHECK_THAT(notemplate.err, Catch::Contains("template"));
  // Without --template the clean two-turn profile runs, which needs a candidate list.
  auto bare = test::Run({"vs-policy", "--model", TinyModel().string()}, "");
  CHECK(bare.status == 1);
  CHECK_THAT(bare.err, Catch::Contains("--candidates"));
}
