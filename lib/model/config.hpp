#pragma once
// Qwen2.5-VL model configuration (transformers configuration_qwen2_5_vl.py). One struct for every
// config.json layout that transformers has written: the Hub layout (text fields at the top level,
// rope_scaling.type "mrope"), 4.52+ (a nested text_config that wins over the top level) and 5.x
// (rope_parameters, dtype). Torch-free so that any folder may include it.
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vstar::model {

// Raised for unreadable, missing or contradictory configuration; the message names the file and field.
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct QwenVisionConfig {
  int64_t depth = 32;
  int64_t hidden_size = 1280;
  int64_t intermediate_size = 3420;
  int64_t num_heads = 16;
  int64_t in_channels = 3;
  int64_t patch_size = 14;
  int64_t spatial_merge_size = 2;
  int64_t temporal_patch_size = 2;
  int64_t window_size = 112;
  std::vector<int64_t> fullatt_block_indexes = {7, 15, 23, 31};
  int64_t out_hidden_size = 2048;  // must equal the text hidden_size
  double tokens_per_second = 2;    // the HF class default is 4; the Hub files say 2
  std::string hidden_act = "silu";
  // Fixed by the code (Qwen2_5_VLTextConfig's default), not the file.
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;

  int64_t head_dim() const { return hidden_size / num_heads; }
  // Values per pixel row fed to the patch embed: in_channels * temporal_patch * patch * patch (1176).
  int64_t patch_dim() const {
    return in_channels * temporal_patch_size * patch_size * patch_size;
  }
  // Input width of the merger MLP: hidden_size * spatial_merge_size^2 (5120).
  int64_t merger_dim() const { return hidden_size * spatial_merge_size * spatial_merge_size; }
};

struct QwenVLConfig {
  // Text decoder (Qwen2).
  int64_t vocab_size = 151936;
  int64_t hidden_size = 2048;
  int64_t intermediate_size = 11008;
  int64_t num_hidden_layers = 36;
  int64_t num_attention_heads = 16;
  int64_t num_key_value_heads = 2;
  int64_t head_dim = 128;  // hidden_size / num_attention_heads (Qwen2 derives it; a file value must agree)
  double rms_norm_eps = 1e-6;
  double rope_theta = 1000000.0;
  std::vector<int64_t> mrope_section = {16, 24, 24};  // sums to head_dim / 2
  int64_t max_position_embeddings = 128000;
  bool tie_word_embeddings = true;
  std::string hidden_act = "silu";
  double attention_dropout = 0.0;
  bool use_sliding_window = false;
  int64_t sliding_window = 0;  // 0 when null/absent
  int64_t max_window_layers = 0;
  std::string torch_dtype = "bfloat16";  // "torch_dtype" (4.x) or "dtype" (5.x)

  // Token ids (the Hub config.json of Qwen/Qwen2.5-VL-*-Instruct).
  int64_t bos_token_id = 151643;
  int64_t eos_token_id = 151645;
  int64_t vision_start_token_id = 151652;
  int64_t vision_end_token_id = 151653;
  int64_t vision_token_id = 151654;  // <|vision_pad|>
  int64_t image_token_id = 151655;
  int64_t video_token_id = 151656;

  QwenVisionConfig vision;

  // Where it was read from ("" when built in code); used in error messages.
  std::string source;

  // Throws ConfigError (naming `source`) when fields contradict each other: head_dim vs hidden/heads,
  // 2*sum(mrope_section) vs head_dim, heads % kv_heads, vision heads, out_hidden_size vs hidden_size,
  // fullatt indexes out of range, non-positive sizes.
  void Validate() const;

  // config.json in the Hub layout that transformers (4.49 .. 4.57) loads: text fields at the top level,
  // rope_scaling {"type":"mrope","mrope_section":...}, vision_config, architectures, model_type.
  nlohmann::ordered_json ToHubJson() const;
};

// Parses a config.json object. `origin` names the file in errors.
QwenVLConfig ParseConfig(const nlohmann::json& j, const std::string& origin = "config.json");

// Reads `path`: a config.json file, or a directory containing config.json.
QwenVLConfig LoadConfig(const std::filesystem::path& path);

// Writes ToHubJson() (pretty, 2-space indent) to `file`.
void SaveConfig(const QwenVLConfig& config, const std::filesystem::path& file);

}  // namespace vstar::model
