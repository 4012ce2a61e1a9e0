// Chat template rendering against Jinja2 renders of the REAL chat_template.json, and pad expansion
// + tokenisation against the transformers Qwen2.5-VL processor (tests/fixtures/model/chat_template,
// tools/golden/chat_template_goldens.py).
#include "io/cache.hpp"
#include "model/chat_template.hpp"
#include "model/tokenizer.hpp"
#include "support.hpp"

using namespace vstar::model;
using Json = nlohmann::json;
namespace fs = std::filesystem;

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
  // The goldens were rendered from the file the manifest names by hash; if the file changes, they must
  // be regenerated (tools/golden/chat_template_goldens.py).
  const fs::path file = vstar::test::SharedDir() / "assets/qwen2.5-vl/chat_template.json";
  Json manifest = Json::parse(
      vstar::test::ReadFile(vstar::test::FixtureDir() / "model/chat_template/manifest.json"));
  const std::string bytes = vstar::test::ReadFile(file);
  CHECK(vstar::io::Sha256Hex(bytes) == manifest["chat_template_json_sha256"].get<std::string>());
  CHECK(manifest["render_cases"] == Cases()["render"].size());
  // The tokenizer picks this file's template, and it is the one RequireQwenChatTemplate accepts.
  Tokenizer tok = Tokenizer::Load(vstar::test::SharedDir() / "assets/qwen2.5-vl");
  const std::string tmpl = Json::parse(bytes)["chat_template"].get<std::string>();
  CHECK(tok.chat_template() == tmpl);
  CHECK(tok.chat_template_file() == file);
  CHECK(vstar::io::Sha256Hex(tmpl) == kQwen25VlChatTemplateSha256);
  CHECK_NOTHROW(RequireQwenChatTemplate(tok));
}

namespace {
// A copy of the tiny golden checkpoint's tokenizer files (it carries no chat template of its own).
fs::path TinyTokenizerCopy(const std::string& tag) {
  const fs::path src = vstar::test::FixtureDir() / "model/tiny/model";
  const fs::path dir = vstar::test::TempDir(tag);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) fs::copy_file(src / f, dir / f);
  return dir;
}

void SetConfigTemplate(const fs::path& dir, const std::string& tmpl) {
  Json cfg = Json::parse(vstar::test::ReadFile(dir / "tokenizer_config.json"));
  cfg["chat_template"] = tmpl;
  vstar::test::WriteFile(dir / "tokenizer_config.json", cfg.dump(2));
}

const char* kAltered =
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
}  // namespace

TEST_CASE("chat template: a checkpoint whose template differs is refused, naming the file",
          "[chat_template]") {
  {
    const fs::path dir = TinyTokenizerCopy("ct-none");
    Tokenizer tok = Tokenizer::Load(dir);
    CHECK(tok.chat_template().empty());
    CHECK(tok.chat_template_file().empty());
    CHECK_NOTHROW(RequireQwenChatTemplate(tok));  // no template of its own: ours
  }
  {
    const fs::path dir = TinyTokenizerCopy("ct-json");
    vstar::test::WriteFile(dir / "chat_template.json", Json{{"chat_template", kAltered}}.dump(2));
    Tokenizer tok = Tokenizer::Load(dir);
    CHECK_THROWS_WITH(RequireQwenChatTemplate(tok),
                      Catch::Contains((dir / "chat_template.json").string()) &&
                          Catch::Contains("not the Qwen2.5-VL template"));
  }
  {
    const fs::path dir = TinyTokenizerCopy("ct-jinja");
    vstar::test::WriteFile(dir / "chat_template.jinja", kAltered);
    CHECK_THROWS_WITH(RequireQwenChatTemplate(Tokenizer::Load(dir)),
                      Catch::Contains((dir / "chat_template.jinja").string()));
  }
  {
    const fs::path dir = TinyTokenizerCopy("ct-config");
    SetConfigTemplate(dir, kAltered);
    CHECK_THROWS_WITH(RequireQwenChatTemplate(Tokenizer::Load(dir)),
                      Catch::Contains((dir / "tokenizer_config.json").string()));
  }
}

TEST_CASE("chat template: the released Qwen2.5-VL templates are accepted, the text-only one refused",
          "[chat_template]") {
  VSTAR_REQUIRE_SHARED("assets/qwen2.5-vl/7b/tokenizer_config.json");
  const fs::path assets = vstar::test::SharedDir() / "assets/qwen2.5-vl";
  auto config_template = [](const fs::path& f) {
    return Json::parse(vstar::test::ReadFile(f))["chat_template"].get<std::string>();
  };
  // 3B: tokenizer_config.json holds the text-only Qwen2.5 template, chat_template.json the multimodal one,
  // which wins (as in transformers' processor): accepted.
  CHECK_NOTHROW(RequireQwenChatTemplate(Tokenizer::Load(assets)));
  // 7B: no chat_template.json; its tokenizer_config.json carries the multimodal template.
  const fs::path seven = TinyTokenizerCopy("ct-7b");
  SetConfigTemplate(seven, config_template(assets / "7b/tokenizer_config.json"));
  CHECK_NOTHROW(RequireQwenChatTemplate(Tokenizer::Load(seven)));
  // The 3B tokenizer_config.json alone (chat_template.json lost): the text-only template is refused.
  const fs::path text_only = TinyTokenizerCopy("ct-text");
  SetConfigTemplate(text_only, config_template(assets / "tokenizer_config.json"));
  CHECK_THROWS_WITH(RequireQwenChatTemplate(Tokenizer::Load(text_only)),
                    Catch::Contains((text_only / "tokenizer_config.json").string()));
  // The real chat_template.json next to the tiny tokenizer: accepted.
  const fs::path real = TinyTokenizerCopy("ct-real");
  fs::copy_file(assets / "chat_template.json", real / "chat_template.json");
  CHECK_NOTHROW(RequireQwenChatTemplate(Tokenizer::Load(real)));
}

TEST_CASE("chat template: vs-policy refuses a checkpoint with an altered template", "[chat_template][pipeline]") {
  VSTAR_REQUIRE_BINARY("vs-policy");
  const fs::path src = vstar::test::FixtureDir() / "model/tiny/model";
  const fs::path dir = vstar::test::TempDir("ct-policy");
  fs::copy(src, dir, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  vstar::test::WriteFile(dir / "chat_template.json", Json{{"chat_template", kAltered}}.dump(2));
  vstar::test::WriteFile(dir / "prompt.txt", "{{video}}What is the person doing?");
  auto r = vstar::test::Run({"vs-policy", "--model", dir.string(), "--template", (dir / "prompt.txt").string(),
                             "--device", "cpu", "--dtype", "fp32"},
                            "{\"id\": \"a\"}\n");
  INFO(r.err);
  CHECK(r.status == 1);
  CHECK(r.out.empty());
  CHECK_THAT(r.err, Catch::Contains((dir / "chat_template.json").string()) &&
                        Catch::Contains("not the Qwen2.5-VL template"));
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
