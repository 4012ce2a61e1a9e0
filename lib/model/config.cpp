#include "model/config.hpp"

#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>

namespace vstar::model {
namespace {

using nlohmann::json;

// Reads one config.json with field lookups that know which object (top level or text_config) a
// value came from, so every error names the file and the field path.
class Reader {
 public:
  Reader(const json& root, std::string origin) : root_(root), origin_(std::move(origin)) {
    if (!root_.is_object()) Fail("", "the file is not a JSON object");
    auto tc = root_.find("text_config");
    if (tc != root_.end() && !tc->is_null()) {
      if (!tc->is_object()) Fail("text_config", "must be an object");
      text_ = &*tc;
    }
  }

  [[noreturn]] void Fail(const std::string& field, const std::string& why) const {
    std::ostringstream os;
    os << origin_ << ": ";
    if (!field.empty()) os << "field '" << field << "': ";
    os << why;
    throw ConfigError(os.str());
  }

  // A text field: text_config.<name> when present (4.52+ files), else the top level.
  const json* Text(const std::string& name, std::string* where) const {
    if (text_) {
      auto it = text_->find(name);
      if (it != text_->end() && !it->is_null()) {
        *where = "text_config." + name;
        return &*it;
      }
    }
    auto it = root_.find(name);
    if (it != root_.end() && !it->is_null()) {
      *where = name;
      return &*it;
    }
    return nullptr;
  }

  int64_t Int(const json& v, const std::string& where) const {
    if (v.is_number_integer() || v.is_number_unsigned()) return v.get<int64_t>();
    if (v.is_number_float()) {
      double d = v.get<double>();
      if (std::floor(d) == d) return static_cast<int64_t>(d);
    }
    Fail(where, "expected an integer, got " + v.dump());
  }
  double Num(const json& v, const std::string& where) const {
    if (v.is_number()) return v.get<double>();
    Fail(where, "expected a number, got " + v.dump());
  }
  bool Bool(const json& v, const std::string& where) const {
    if (v.is_boolean()) return v.get<bool>();
    Fail(where, "expected true or false, got " + v.dump());
  }
  std::string Str(const json& v, const std::string& where) const {
    if (v.is_string()) return v.get<std::string>();
    Fail(where, "expected a string, got " + v.dump());
  }
  std::vector<int64_t> Ints(const json& v, const std::string& where) const {
    if (!v.is_array()) Fail(where, "expected an array of integers, got " + v.dump());
    std::vector<int64_t> out;
    for (size_t i = 0; i < v.size(); ++i)
      out.push_back(Int(v[i], where + "[" + std::to_string(i) + "]"));
    return out;
  }

  int64_t TextInt(const std::string& name) const {
    std::string where;
    const json* v = Text(name, &where);
    if (!v) Fail(name, "missing (looked in text_config and at the top level)");
    return Int(*v, where);
  }
  int64_t TextInt(const std::string& name, int64_t fallback) const {
    std::string where;
    const json* v = Text(name, &where);
    return v ? Int(*v, where) : fallback;
  }
  double TextNum(const std::string& name) const {
    std::string where;
    const json* v = Text(name, &where);
    if (!v) Fail(name, "missing (looked in text_config and at the top level)");
    return Num(*v, where);
  }

  const json& root() const { return root_; }
  const json* text() const { return text_; }
  const std::string& origin() const { return origin_; }

 private:
  const json& root_;
  const json* text_ = nullptr;
  std::string origin_;
};

// The rope block: 5.x rope_parameters, else rope_scaling; text_config first.
void ReadRope(const Reader& r, QwenVLConfig& c) {
  const json* rope = nullptr;
  std::string where;
  for (const char* key : {"rope_parameters", "rope_scaling"}) {
    rope = r.Text(key, &where);
    if (rope) break;
  }
  if (!rope)
    r.Fail("rope_scaling",
           "missing: Qwen2.5-VL needs rope_scaling (or rope_parameters) with mrope_section");
  if (!rope->is_object()) r.Fail(where, "expected an object, got " + rope->dump());

  for (const char* key : {"rope_type", "type"}) {
    auto it = rope->find(key);
    if (it == rope->end() || it->is_null()) continue;
    std::string type = r.Str(*it, where + "." + key);
    // HF rewrites "mrope" to "default": both mean plain RoPE split into sections.
    if (type != "mrope" && type != "default")
      r.Fail(where + "." + key, "unsupported rope type '" + type + "' (expected mrope or default)");
  }
  auto ms = rope->find("mrope_section");
  if (ms == rope->end() || ms->is_null()) r.Fail(where + ".mrope_section", "missing");
  c.mrope_section = r.Ints(*ms, where + ".mrope_section");

  // rope_theta: top level / text_config (4.x), or inside rope_parameters (5.x). Both must agree.
  std::string theta_where;
  const json* outer = r.Text("rope_theta", &theta_where);
  auto inner = rope->find("rope_theta");
  bool has_inner = inner != rope->end() && !inner->is_null();
  if (outer) c.rope_theta = r.Num(*outer, theta_where);
  if (has_inner) {
    double t = r.Num(*inner, where + ".rope_theta");
    if (outer && t != c.rope_theta)
      r.Fail(where + ".rope_theta",
             "contradicts " + theta_where + " (" + inner->dump() + " vs " + outer->dump() + ")");
    c.rope_theta = t;
  }
  if (!outer && !has_inner) c.rope_theta = 1000000.0;  // HF class default
}

void ReadVision(const Reader& r, QwenVLConfig& c) {
  auto it = r.root().find("vision_config");
  if (it == r.root().end() || it->is_null()) r.Fail("vision_config", "missing");
  const json& v = *it;
  if (!v.is_object()) r.Fail("vision_config", "expected an object");
  QwenVisionConfig& vc = c.vision;
  // Absent fields take the HF Qwen2_5_VLVisionConfig class defaults (as transformers does).
  auto get_int = [&](const char* name, int64_t fallback) {
    auto f = v.find(name);
    if (f == v.end() || f->is_null()) return fallback;
    return r.Int(*f, std::string("vision_config.") + name);
  };
  vc.depth = get_int("depth", 32);
  vc.hidden_size = get_int("hidden_size", 3584);
  vc.intermediate_size = get_int("intermediate_size", 3420);
  vc.num_heads = get_int("num_heads", 16);
  vc.patch_size = get_int("patch_size", 14);
  vc.spatial_merge_size = get_int("spatial_merge_size", 2);
  vc.temporal_patch_size = get_int("temporal_patch_size", 2);
  vc.window_size = get_int("window_size", 112);
  vc.out_hidden_size = get_int("out_hidden_size", 3584);

  // in_channels (current name) falls back to in_chans (Hub files).
  auto ic = v.find("in_channels");
  auto ich = v.find("in_chans");
  bool has_ic = ic != v.end() && !ic->is_null(), has_ich = ich != v.end() && !ich->is_null();
  vc.in_channels = 3;
  if (has_ich) vc.in_channels = r.Int(*ich, "vision_config.in_chans");
  if (has_ic) {
    int64_t n = r.Int(*ic, "vision_config.in_channels");
    if (has_ich && n != vc.in_channels)
      r.Fail("vision_config.in_channels",
             "contradicts vision_config.in_chans (" + ic->dump() + " vs " + ich->dump() + ")");
    vc.in_channels = n;
  }
  auto sp = v.find("spatial_patch_size");
  if (sp != v.end() && !sp->is_null() &&
      r.Int(*sp, "vision_config.spatial_patch_size") != vc.patch_size)
    r.Fail("vision_config.spatial_patch_size", "contradicts vision_config.patch_size");

  auto fa = v.find("fullatt_block_indexes");
  if (fa != v.end() && !fa->is_null())
    vc.fullatt_block_indexes = r.Ints(*fa, "vision_config.fullatt_block_indexes");
  else
    vc.fullatt_block_indexes = {7, 15, 23, 31};
  auto tps = v.find("tokens_per_second");
  vc.tokens_per_second =
      (tps != v.end() && !tps->is_null()) ? r.Num(*tps, "vision_config.tokens_per_second") : 4.0;
  auto act = v.find("hidden_act");
  vc.hidden_act =
      (act != v.end() && !act->is_null()) ? r.Str(*act, "vision_config.hidden_act") : "silu";
}

std::string Where(const QwenVLConfig& c) {
  return c.source.empty() ? std::string("config") : c.source;
}

}  // namespace

void QwenVLConfig::Validate() const {
  auto fail = [&](const std::string& field, const std::string& why) {
    throw ConfigError(Where(*this) + ": field '" + field + "': " + why);
  };
  auto positive = [&](const char* field, int64_t v) {
    if (v <= 0) fail(field, "must be positive, got " + std::to_string(v));
  };
  positive("vocab_size", vocab_size);
  positive("hidden_size", hidden_size);
  positive("intermediate_size", intermediate_size);
  positive("num_hidden_layers", num_hidden_layers);
  positive("num_attention_heads", num_attention_heads);
  positive("num_key_value_heads", num_key_value_heads);
  positive("max_position_embeddings", max_position_embeddings);
  if (hidden_size % num_attention_heads != 0)
    fail("num_attention_heads", "hidden_size " + std::to_string(hidden_size) +
                                    " is not divisible by " + std::to_string(num_attention_heads));
  if (head_dim != hidden_size / num_attention_heads)
    fail("head_dim", std::to_string(head_dim) + " contradicts hidden_size/num_attention_heads = " +
                         std::to_string(hidden_size / num_attention_heads));
  if (num_attention_heads % num_key_value_heads != 0)
    fail("num_key_value_heads", std::to_string(num_key_value_heads) +
                                    " does not divide num_attention_heads " +
                                    std::to_string(num_attention_heads));
  if (mrope_section.empty()) fail("rope_scaling.mrope_section", "is empty");
  int64_t sum = 0;
  for (int64_t s : mrope_section) {
    if (s <= 0) fail("rope_scaling.mrope_section", "entries must be positive");
    sum += s;
  }
  if (2 * sum != head_dim)
    fail("rope_scaling.mrope_section", "2*sum = " + std::to_string(2 * sum) +
                                           " contradicts head_dim " + std::to_string(head_dim));
  if (!(rms_norm_eps > 0)) fail("rms_norm_eps", "must be positive");
  if (!(rope_theta > 0)) fail("rope_theta", "must be positive");
  for (auto [name, id] : {std::pair<const char*, int64_t>{"image_token_id", image_token_id},
                          {"video_token_id", video_token_id},
                          {"vision_start_token_id", vision_start_token_id},
                          {"vision_end_token_id", vision_end_token_id}}) {
    if (id < 0 || id >= vocab_size)
      fail(name, std::to_string(id) + " is outside the vocabulary [0, " +
                     std::to_string(vocab_size) + ")");
  }

  const QwenVisionConfig& v = vision;
  positive("vision_config.depth", v.depth);
  positive("vision_config.hidden_size", v.hidden_size);
  positive("vision_config.intermediate_size", v.intermediate_size);
  positive("vision_config.num_heads", v.num_heads);
  positive("vision_config.in_channels", v.in_channels);
  positive("vision_config.patch_size", v.patch_size);
  positive("vision_config.spatial_merge_size", v.spatial_merge_size);
  positive("vision_config.temporal_patch_size", v.temporal_patch_size);
  positive("vision_config.window_size", v.window_size);
  if (v.hidden_size % v.num_heads != 0)
    fail("vision_config.num_heads", "does not divide vision_config.hidden_size");
  if (v.head_dim() % 4 != 0)
    fail("vision_config.num_heads",
         "vision head_dim " + std::to_string(v.head_dim()) + " must be divisible by 4 (2-D rope)");
  if (v.out_hidden_size != hidden_size)
    fail("vision_config.out_hidden_size", std::to_string(v.out_hidden_size) +
                                              " contradicts the text hidden_size " +
                                              std::to_string(hidden_size));
  if (v.window_size % (v.patch_size * v.spatial_merge_size) != 0)
    fail("vision_config.window_size", "must be a multiple of patch_size*spatial_merge_size");
  for (int64_t b : v.fullatt_block_indexes)
    if (b < 0 || b >= v.depth)
      fail("vision_config.fullatt_block_indexes",
           "block " + std::to_string(b) + " is outside [0, depth=" + std::to_string(v.depth) + ")");
  if (!(v.tokens_per_second > 0)) fail("vision_config.tokens_per_second", "must be positive");
}

QwenVLConfig ParseConfig(const nlohmann::json& j, const std::string& origin) {
  Reader r(j, origin);
  QwenVLConfig c;
  c.source = origin;

  auto mt = j.find("model_type");
  if (mt != j.end() && mt->is_string()) {
    std::string t = mt->get<std::string>();
    if (t != "qwen2_5_vl" && t != "qwen2_vl")
      r.Fail("model_type", "'" + t + "' is not a Qwen2.5-VL config (expected qwen2_5_vl)");
  }

  c.vocab_size = r.TextInt("vocab_size");
  c.hidden_size = r.TextInt("hidden_size");
  c.intermediate_size = r.TextInt("intermediate_size");
  c.num_hidden_layers = r.TextInt("num_hidden_layers");
  c.num_attention_heads = r.TextInt("num_attention_heads");
  c.num_key_value_heads = r.TextInt("num_key_value_heads");
  c.rms_norm_eps = r.TextNum("rms_norm_eps");
  c.max_position_embeddings = r.TextInt("max_position_embeddings", 32768);
  c.head_dim = c.hidden_size / std::max<int64_t>(1, c.num_attention_heads);
  {
    std::string where;
    if (const json* hd = r.Text("head_dim", &where)) {
      c.head_dim = r.Int(*hd, where);
    }
  }
  ReadRope(r, c);

  // tie_word_embeddings may be written at both levels (4.52+); they must agree.
  {
    auto top = j.find("tie_word_embeddings");
    bool has_top = top != j.end() && !top->is_null();
    const json* in_text = nullptr;
    if (r.text()) {
      auto it = r.text()->find("tie_word_embeddings");
      if (it != r.text()->end() && !it->is_null()) in_text = &*it;
    }
    c.tie_word_embeddings = false;  // Qwen2_5_VLTextConfig default
    if (has_top) c.tie_word_embeddings = r.Bool(*top, "tie_word_embeddings");
    if (in_text) {
      bool t = r.Bool(*in_text, "text_config.tie_word_embeddings");
      if (has_top && t != c.tie_word_embeddings)
        r.Fail("text_config.tie_word_embeddings", "contradicts the top-level tie_word_embeddings");
      c.tie_word_embeddings = t;
    }
  }

  std::string where;
  if (const json* v = r.Text("hidden_act", &where)) c.hidden_act = r.Str(*v, where);
  if (const json* v = r.Text("attention_dropout", &where)) c.attention_dropout = r.Num(*v, where);
  if (const json* v = r.Text("use_sliding_window", &where))
    c.use_sliding_window = r.Bool(*v, where);
  // A null sliding_window in the nested copy must not hide the top-level value: Text() skips nulls.
  c.sliding_window = r.TextInt("sliding_window", 0);
  c.max_window_layers = r.TextInt("max_window_layers", 0);
  c.torch_dtype = "float32";
  for (const char* key : {"dtype", "torch_dtype"}) {
    if (const json* v = r.Text(key, &where)) {
      c.torch_dtype = r.Str(*v, where);
      break;
    }
  }
  if (c.hidden_act != "silu") r.Fail("hidden_act", "unsupported activation '" + c.hidden_act + "'");

  // Token ids live at the top level (vision ids) or in either place (bos/eos).
  c.bos_token_id = r.TextInt("bos_token_id", 151643);
  c.eos_token_id = r.TextInt("eos_token_id", 151645);
  auto top_int = [&](const char* name, int64_t fallback) {
    auto it = j.find(name);
    if (it != j.end() && !it->is_null()) return r.Int(*it, name);
    return r.TextInt(name, fallback);
  };
  c.vision_start_token_id = top_int("vision_start_token_id", 151652);
  c.vision_end_token_id = top_int("vision_end_token_id", 151653);
  c.vision_token_id = top_int("vision_token_id", 151654);
  c.image_token_id = top_int("image_token_id", 151655);
  c.video_token_id = top_int("video_token_id", 151656);

  ReadVision(r, c);
  if (c.vision.hidden_act != "silu" && c.vision.hidden_act != "quick_gelu")
    r.Fail("vision_config.hidden_act", "unsupported activation '" + c.vision.hidden_act + "'");
  c.Validate();
  return c;
}

QwenVLConfig LoadConfig(const std::filesystem::path& path) {
  std::filesystem::path file = path;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) file = path / "config.json";
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ConfigError(file.string() + ": cannot open the config file");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw ConfigError(file.string() + ": invalid JSON: " + e.what());
  }
  return ParseConfig(j, file.string());
}

nlohmann::ordered_json QwenVLConfig::ToHubJson() const {
  nlohmann::ordered_json j;
  j["architectures"] = {"Qwen2_5_VLForConditionalGeneration"};
  j["attention_dropout"] = attention_dropout;
  j["bos_token_id"] = bos_token_id;
  j["eos_token_id"] = eos_token_id;
  j["vision_start_token_id"] = vision_start_token_id;
  j["vision_end_token_id"] = vision_end_token_id;
  j["vision_token_id"] = vision_token_id;
  j["image_token_id"] = image_token_id;
  j["video_token_id"] = video_token_id;
  j["hidden_act"] = hidden_act;
  j["hidden_size"] = hidden_size;
  j["initializer_range"] = 0.02;
  j["intermediate_size"] = intermediate_size;
  j["max_position_embeddings"] = max_position_embeddings;
  j["max_window_layers"] = max_window_layers;
  j["model_type"] = "qwen2_5_vl";
  j["num_attention_heads"] = num_attention_heads;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_key_value_heads"] = num_key_value_heads;
  j["rms_norm_eps"] = rms_norm_eps;
  j["rope_theta"] = rope_theta;
  if (sliding_window > 0)
    j["sliding_window"] = sliding_window;
  else
    j["sliding_window"] = nullptr;
  j["tie_word_embeddings"] = tie_word_embeddings;
  j["torch_dtype"] = torch_dtype;
  j["use_cache"] = true;
  j["use_sliding_window"] = use_sliding_window;
  nlohmann::ordered_json v;
  v["depth"] = vision.depth;
  v["hidden_act"] = vision.hidden_act;
  v["hidden_size"] = vision.hidden_size;
  v["intermediate_size"] = vision.intermediate_size;
  v["num_heads"] = vision.num_heads;
  v["in_chans"] = vision.in_channels;
  v["in_channels"] = vision.in_channels;
  v["out_hidden_size"] = vision.out_hidden_size;
  v["patch_size"] = vision.patch_size;
  v["spatial_merge_size"] = vision.spatial_merge_size;
  v["spatial_patch_size"] = vision.patch_size;
  v["window_size"] = vision.window_size;
  v["fullatt_block_indexes"] = vision.fullatt_block_indexes;
  if (std::floor(vision.tokens_per_second) == vision.tokens_per_second)
    v["tokens_per_second"] = static_cast<int64_t>(vision.tokens_per_second);
  else
    v["tokens_per_second"] = vision.tokens_per_second;
  v["temporal_patch_size"] = vision.temporal_patch_size;
  j["vision_config"] = v;
  j["rope_scaling"] = {{"type", "mrope"}, {"mrope_section", mrope_section}};
  j["vocab_size"] = vocab_size;
  return j;
}

void SaveConfig(const QwenVLConfig& config, const std::filesystem::path& file) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) throw ConfigError(file.string() + ": cannot write the config file");
  out << config.ToHubJson().dump(2) << "\n";
  if (!out) throw ConfigError(file.string() + ": write failed");
}

}  // namespace vstar::model
