// Chat template rendering against Jinja2 renders of the REAL chat_template.json, and pad expansion
// + tokenisation against the transformers Qwen2.5-VL processor (tests/fixtures/model/chat_template,
// tools/golden/chat_template_goldens.py).
#include "model/chat_template.hpp"
#include "model/tokenizer.hpp"
#include "support.hpp"

using namespace vstar::model;
using Json = nlohmann::json;

namespace {
Json Cases() {
  return Json::parse(
      vstar::test::ReadFile(vstar::test::FixtureDir() / "model/chat_template/cases.json"));
}
}  // namespace

TEST_CASE("chat template: byte-exact with Jinja2 over the real template", "[chat_template]") {
  Json cases = Cases();
  REQUIRE(cases["render"].size() >= 40);
  for (const auto& c : cases["render"]) {
    ChatTemplateOptions opt;
    opt.add_generation_prompt = c["add_generation_prompt"].get<bool>();
    opt.add_vision_id = c["add_vision_id"].get<bool>();
    INFO(c["name"].get<std::string>()
         << " gen=" << opt.add_generation_prompt << " vid=" << opt.add_vision_id);
    std::string got = RenderChat(ChatMessagesFromJson(c["messages"]), opt);
    INFO("got:  " << Json(got).dump());
    INFO("want: " << c["text"].dump());
    CHECK(got == c["text"].get<std::string>());
  }
}

TEST_CASE("chat template: the real template file is the one these rules implement",
          "[chat_template]") {
  VSTAR_REQUIRE_SHARED("assets/qwen2.5-vl/chat_template.json");
  // The goldens were rendered from this exact file; if it changes, regenerate them.
  Json manifest = Json::parse(
      vstar::test::ReadFile(vstar::test::FixtureDir() / "model/chat_template/manifest.json"));
  Tokenizer tok = Tokenizer::Load(vstar::test::SharedDir() / "assets/qwen2.5-vl");
  Json file = Json::parse(
      vstar::test::ReadFile(vstar::test::SharedDir() / "assets/qwen2.5-vl/chat_template.json"));
  CHECK(tok.chat_template() == file["chat_template"].get<std::string>());
  CHECK(manifest["chat_template_json_sha256"] ==
        "ad60d90252ed0b0705ba14e2d0ad0fec0beac1ea955642b54059b36052d8bc96");
}

TEST_CASE("chat template: pad expansion by grid then tokenisation equals the HF processor",
          "[chat_template]") {
  VSTAR_REQUIRE_SHARED("assets/qwen2.5-vl/vocab.json");
  Tokenizer tok = Tokenizer::Load(vstar::test::SharedDir() / "assets/qwen2.5-vl");
  for (const auto& c : Cases()["processor"]) {
    INFO(c["name"].get<std::string>());
    std::vector<GridTHW> images, videos;
    for (const auto& g : c["image_grid_thw"]) images.push_back({g[0], g[1], g[2]});
    for (const auto& g : c["video_grid_thw"]) videos.push_back({g[0], g[1], g[2]});
    std::string expanded = ExpandVisionPads(c["prompt"].get<std::string>(), images, videos);
    auto ids = tok.Encode(expanded);
    CHECK(ids == c["input_ids"].get<std::vector<TokenId>>());
  }
}

TEST_CASE("chat template: expansion counts and errors", "[chat_template]") {
  std::string p = "a<|image_pad|>b<|video_pad|>c<|image_pad|>";
  std::string out = ExpandVisionPads(p, {{1, 4, 6}, {1, 2, 2}}, {{2, 4, 4}});
  auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t i = out.find(what); i != std::string::npos; i = out.find(what, i + 1)) ++n;
    return n;
  };
  CHECK(count("<|image_pad|>") == 6 + 1);
  CHECK(count("<|video_pad|>") == 8);
  CHECK(out.rfind("a<|image_pad|>", 0) == 0);
  CHECK(ExpandVisionPads("no pads", {}, {}) == "no pads");
  CHECK_THROWS_WITH(ExpandVisionPads(p, {{1, 4, 6}}, {{2, 4, 4}}), Catch::Contains("image grids"));
  CHECK_THROWS_WITH(ExpandVisionPads(p, {{1, 4, 6}, {1, 2, 2}, {1, 2, 2}}, {{2, 4, 4}}),
                    Catch::Contains("2 <|image_pad|> placeholders but 3"));
  CHECK_THROWS_WITH(ExpandVisionPads(p, {{1, 4, 6}, {1, 2, 2}}, {}),
                    Catch::Contains("video grids"));
  CHECK_THROWS_WITH(ExpandVisionPads(p, {{1, 3, 3}, {1, 2, 2}}, {{2, 4, 4}}),
                    Catch::Contains("merge_size"));
  CHECK_THROWS_AS(ChatMessagesFromJson(Json::object()), ChatTemplateError);
  CHECK_THROWS_AS(ChatMessagesFromJson(Json::parse(R"([{"role":"user"}])")), ChatTemplateError);
  CHECK_THROWS_AS(ChatMessagesFromJson(Json::parse(R"([{"role":"user","content":[{"text":5}]}])")),
                  ChatTemplateError);
}
