// Config loading over the real Qwen2.5-VL config files (../shared), the configs transformers 4.57
// writes (tests/fixtures/model/config, tools/golden/config_goldens.py), and variants written here.
#include <fstream>

#include "model/config.hpp"
#include "support.hpp"

using vstar::model::ConfigError;
using vstar::model::LoadConfig;
using vstar::model::ParseConfig;
using vstar::model::QwenVLConfig;
using Json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

Json ReadJson(const fs::path& p) {
  return Json::parse(vstar::test::ReadFile(p));
}

// The 3B Hub config.json as published (text fields at the top level).
Json Hub3B() {
  return Json::parse(R"({
  "architectures": ["Qwen2_5_VLForConditionalGeneration"], "attention_dropout": 0.0,
  "bos_token_id": 151643, "eos_token_id": 151645, "vision_start_token_id": 151652,
  "vision_end_token_id": 151653, "vision_token_id": 151654, "image_token_id": 151655,
  "video_token_id": 151656, "hidden_act": "silu", "hidden_size": 2048, "initializer_range": 0.02,
  "intermediate_size": 11008, "max_position_embeddings": 128000, "max_window_layers": 70,
  "model_type": "qwen2_5_vl", "num_attention_heads": 16, "num_hidden_layers": 36,
  "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768,
  "tie_word_embeddings": true, "torch_dtype": "bfloat16", "use_cache": true, "use_sliding_window": false,
  "vision_config": {"depth": 32, "hidden_act": "silu", "hidden_size": 1280, "intermediate_size": 3420,
    "num_heads": 16, "in_chans": 3, "out_hidden_size": 2048, "patch_size": 14, "spatial_merge_size": 2,
    "spatial_patch_size": 14, "window_size": 112, "fullatt_block_indexes": [7, 15, 23, 31],
    "tokens_per_second": 2, "temporal_patch_size": 2},
  "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]}, "vocab_size": 151936})");
}

void Check3B(const QwenVLConfig& c) {
  CHECK(c.vocab_size == 151936);
  CHECK(c.hidden_size == 2048);
  CHECK(c.intermediate_size == 11008);
  CHECK(c.num_hidden_layers == 36);
  CHECK(c.num_attention_heads == 16);
  CHECK(c.num_key_value_heads == 2);
  CHECK(c.head_dim == 128);
  CHECK(c.rms_norm_eps == 1e-6);
  CHECK(c.rope_theta == 1e6);
  CHECK(c.mrope_section == std::vector<int64_t>{16, 24, 24});
  CHECK(c.max_position_embeddings == 128000);
  CHECK(c.tie_word_embeddings);
  CHECK(c.bos_token_id == 151643);
  CHECK(c.eos_token_id == 151645);
  CHECK(c.vision_start_token_id == 151652);
  CHECK(c.vision_end_token_id == 151653);
  CHECK(c.vision_token_id == 151654);
  CHECK(c.image_token_id == 151655);
  CHECK(c.video_token_id == 151656);
  CHECK(c.vision.depth == 32);
  CHECK(c.vision.hidden_size == 1280);
  CHECK(c.vision.intermediate_size == 3420);
  CHECK(c.vision.num_heads == 16);
  CHECK(c.vision.head_dim() == 80);
  CHECK(c.vision.in_channels == 3);
  CHECK(c.vision.patch_size == 14);
  CHECK(c.vision.spatial_merge_size == 2);
  CHECK(c.vision.temporal_patch_size == 2);
  CHECK(c.vision.window_size == 112);
  CHECK(c.vision.fullatt_block_indexes == std::vector<int64_t>{7, 15, 23, 31});
  CHECK(c.vision.out_hidden_size == 2048);
  CHECK(c.vision.tokens_per_second == 2);
  CHECK(c.vision.patch_dim() == 1176);
  CHECK(c.vision.merger_dim() == 5120);
}

// Expects ParseConfig to throw a ConfigError whose message contains every fragment.
void ExpectError(const Json& j, std::vector<std::string> fragments) {
  try {
    ParseConfig(j, "variant.json");
    FAIL("no error for " << j.dump());
  } catch (const ConfigError& e) {
    std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("variant.json") != std::string::npos);
    for (auto& f : fragments) CHECK(msg.find(f) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("config: the real 3B and 7B config.json files", "[config]") {
  VSTAR_REQUIRE_SHARED("assets/qwen2.5-vl/config.json");
  fs::path dir = vstar::test::SharedDir() / "assets/qwen2.5-vl";
  QwenVLConfig c3 = LoadConfig(dir);  // a directory
  Check3B(c3);
  CHECK(c3.source == (dir / "config.json").string());
  QwenVLConfig c7 = LoadConfig(dir / "7b/config.json");  // a file
  CHECK(c7.vocab_size == 152064);
  CHECK(c7.hidden_size == 3584);
  CHECK(c7.intermediate_size == 18944);
  CHECK(c7.num_hidden_layers == 28);
  CHECK(c7.num_attention_heads == 28);
  CHECK(c7.num_key_value_heads == 4);
  CHECK(c7.head_dim == 128);
  CHECK_FALSE(c7.tie_word_embeddings);
  CHECK(c7.max_window_layers == 28);
  CHECK(c7.vision.out_hidden_size == 3584);
  CHECK(c7.vision.tokens_per_second == 2);
}

TEST_CASE("config: the Hub layout written here parses like the real file", "[config]") {
  Check3B(ParseConfig(Hub3B(), "hub.json"));
}

TEST_CASE("config: files saved by transformers 4.57 (nested text_config only)", "[config]") {
  fs::path dir = vstar::test::FixtureDir() / "model/config";
  Json expected = ReadJson(dir / "expected.json");
  for (const char* name : {"tiny_tied", "tiny_untied"}) {
    INFO(name);
    QwenVLConfig c = LoadConfig(dir / (std::string(name) + ".config.json"));
    const Json& e = expected[name];
    CHECK(c.vocab_size == e["vocab_size"].get<int64_t>());
    CHECK(c.hidden_size == e["hidden_size"].get<int64_t>());
    CHECK(c.intermediate_size == e["intermediate_size"].get<int64_t>());
    CHECK(c.num_hidden_layers == e["num_hidden_layers"].get<int64_t>());
    CHECK(c.num_attention_heads == e["num_attention_heads"].get<int64_t>());
    CHECK(c.num_key_value_heads == e["num_key_value_heads"].get<int64_t>());
    CHECK(c.rms_norm_eps == e["rms_norm_eps"].get<double>());
    CHECK(c.rope_theta == e["rope_theta"].get<double>());
    CHECK(c.mrope_section == e["mrope_section"].get<std::vector<int64_t>>());
    CHECK(c.max_position_embeddings == e["max_position_embeddings"].get<int64_t>());
    CHECK(c.tie_word_embeddings == e["tie_word_embeddings"].get<bool>());
    CHECK(c.head_dim == 16);
    CHECK(c.image_token_id == e["image_token_id"].get<int64_t>());
    CHECK(c.video_token_id == e["video_token_id"].get<int64_t>());
    CHECK(c.vision_start_token_id == e["vision_start_token_id"].get<int64_t>());
    CHECK(c.vision_end_token_id == e["vision_end_token_id"].get<int64_t>());
    const Json& v = e["vision"];
    CHECK(c.vision.depth == v["depth"].get<int64_t>());
    CHECK(c.vision.hidden_size == v["hidden_size"].get<int64_t>());
    CHECK(c.vision.intermediate_size == v["intermediate_size"].get<int64_t>());
    CHECK(c.vision.num_heads == v["num_heads"].get<int64_t>());
    CHECK(c.vision.in_channels == v["in_channels"].get<int64_t>());
    CHECK(c.vision.patch_size == v["patch_size"].get<int64_t>());
    CHECK(c.vision.spatial_merge_size == v["spatial_merge_size"].get<int64_t>());
    CHECK(c.vision.temporal_patch_size == v["temporal_patch_size"].get<int64_t>());
    CHECK(c.vision.window_size == v["window_size"].get<int64_t>());
    CHECK(c.vision.fullatt_block_indexes == v["fullatt_block_indexes"].get<std::vector<int64_t>>());
    CHECK(c.vision.out_hidden_size == v["out_hidden_size"].get<int64_t>());
    CHECK(c.vision.tokens_per_second == v["tokens_per_second"].get<double>());
  }
}

TEST_CASE("config: 4.52+ top level plus nested text_config, text_config wins", "[config]") {
  Json j = Hub3B();
  Json text = {{"model_type", "qwen2_5_vl_text"},
               {"vocab_size", 151936},
               {"hidden_size", 2048},
               {"intermediate_size", 11008},
               {"num_hidden_layers", 36},
               {"num_attention_heads", 16},
               {"num_key_value_heads", 2},
               {"rms_norm_eps", 1e-6},
               {"rope_theta", 1000000.0},
               {"max_position_embeddings", 128000},
               {"sliding_window", nullptr},
               {"tie_word_embeddings", true},
               {"layer_types", std::vector<std::string>(36, "full_attention")},
               {"rope_scaling",
                {{"rope_type", "default"}, {"type", "default"}, {"mrope_section", {16, 24, 24}}}}};
  j["text_config"] = text;
  Check3B(ParseConfig(j, "v452.json"));
  // A stale top-level value loses to text_config.
  j["num_hidden_layers"] = 99;
  CHECK(ParseConfig(j, "v452.json").num_hidden_layers == 36);
  // The null nested sliding_window does not hide the top-level one.
  CHECK(ParseConfig(j, "v452.json").sliding_window == 32768);
}

TEST_CASE("config: 5.x rope_parameters and dtype", "[config]") {
  Json j = Hub3B();
  j.erase("rope_scaling");
  j.erase("rope_theta");
  j.erase("torch_dtype");
  j["dtype"] = "float32";
  j["rope_parameters"] = {
      {"rope_type", "default"}, {"rope_theta", 1000000.0}, {"mrope_section", {16, 24, 24}}};
  QwenVLConfig c = ParseConfig(j, "v5.json");
  Check3B(c);
  CHECK(c.torch_dtype == "float32");
  j["rope_parameters"]["rope_theta"] = 10000.0;
  CHECK(ParseConfig(j, "v5.json").rope_theta == 10000.0);
  j["rope_theta"] = 1000000.0;  // both places, disagreeing
  ExpectError(j, {"rope_theta", "contradicts"});
}

TEST_CASE("config: in_channels falls back to in_chans", "[config]") {
  Json j = Hub3B();
  j["vision_config"].erase("in_chans");
  j["vision_config"]["in_channels"] = 3;
  CHECK(ParseConfig(j, "x.json").vision.in_channels == 3);
  j["vision_config"]["in_chans"] = 3;
  CHECK(ParseConfig(j, "x.json").vision.in_channels == 3);
  j["vision_config"]["in_chans"] = 4;
  ExpectError(j, {"in_channels", "in_chans", "contradicts"});
  j["vision_config"].erase("in_channels");
  j["vision_config"].erase("in_chans");
  CHECK(ParseConfig(j, "x.json").vision.in_channels == 3);  // HF class default
}

TEST_CASE("config: missing and contradictory fields name the file and field", "[config]") {
  {
    Json j = Hub3B();
    j.erase("hidden_size");
    ExpectError(j, {"'hidden_size'", "missing"});
  }
  {
    Json j = Hub3B();
    j.erase("rope_scaling");
    ExpectError(j, {"rope_scaling", "missing"});
  }
  {
    Json j = Hub3B();
    j["rope_scaling"]["mrope_section"] = {16, 24, 20};
    ExpectError(j, {"mrope_section", "head_dim"});
  }
  {
    Json j = Hub3B();
    j["rope_scaling"] = {{"type", "yarn"}, {"mrope_section", {16, 24, 24}}};
    ExpectError(j, {"rope_scaling.type", "yarn"});
  }
  {
    Json j = Hub3B();
    j["num_key_value_heads"] = 3;
    ExpectError(j, {"num_key_value_heads"});
  }
  {
    Json j = Hub3B();
    j["head_dim"] = 64;
    ExpectError(j, {"head_dim", "contradicts"});
  }
  {
    Json j = Hub3B();
    j["vision_config"]["out_hidden_size"] = 3584;
    ExpectError(j, {"vision_config.out_hidden_size", "2048"});
  }
  {
    Json j = Hub3B();
    j["vision_config"]["fullatt_block_indexes"] = {7, 32};
    ExpectError(j, {"fullatt_block_indexes", "32"});
  }
  {
    Json j = Hub3B();
    j["text_config"] = {{"tie_word_embeddings", false}};
    ExpectError(j, {"tie_word_embeddings", "contradicts"});
  }
  {
    Json j = Hub3B();
    j["hidden_size"] = "2048";
    ExpectError(j, {"hidden_size", "integer"});
  }
  {
    Json j = Hub3B();
    j.erase("vision_config");
    ExpectError(j, {"vision_config", "missing"});
  }
  {
    Json j = Hub3B();
    j["model_type"] = "llama";
    ExpectError(j, {"model_type", "llama"});
  }
  fs::path dir = vstar::test::TempDir("config-errors");
  vstar::test::WriteFile(dir / "config.json", "{ not json");
  try {
    LoadConfig(dir);
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()).find((dir / "config.json").string()) != std::string::npos);
  }
  CHECK_THROWS_AS(LoadConfig(dir / "absent.json"), ConfigError);
}

TEST_CASE("config: tied embeddings default to untied when absent", "[config]") {
  Json j = Hub3B();
  j.erase("tie_word_embeddings");
  CHECK_FALSE(ParseConfig(j, "x.json").tie_word_embeddings);
}

TEST_CASE("config: SaveConfig round-trips through the Hub layout", "[config]") {
  QwenVLConfig c = ParseConfig(Hub3B(), "hub.json");
  fs::path dir = vstar::test::TempDir("config-save");
  vstar::model::SaveConfig(c, dir / "config.json");
  QwenVLConfig back = LoadConfig(dir);
  Check3B(back);
  CHECK(back.sliding_window == 32768);
  Json j = ReadJson(dir / "config.json");
  CHECK(j["rope_scaling"]["type"] == "mrope");
  CHECK(j["model_type"] == "qwen2_5_vl");
}
