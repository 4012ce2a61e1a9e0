// safetensors reader/writer against files written by the python `safetensors` package
// (tests/fixtures/model/safetensors, tools/golden/safetensors_goldens.py), round trips, and errors.
#include <cstdlib>
#include <fstream>

#include "model/config.hpp"
#include "model/safetensors.hpp"
#include "support.hpp"

using namespace vstar::model;
using Json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

fs::path Fixtures() {
  return vstar::test::FixtureDir() / "model/safetensors";
}

void CheckAgainst(const torch::Tensor& t, const Json& e, const std::string& name) {
  INFO(name);
  static const std::map<std::string, c10::ScalarType> kTypes = {
      {"bfloat16", torch::kBFloat16}, {"float16", torch::kHalf}, {"float32", torch::kFloat},
      {"float64", torch::kDouble},    {"int64", torch::kLong},   {"int32", torch::kInt},
      {"int16", torch::kShort},       {"int8", torch::kChar},    {"uint8", torch::kByte},
      {"bool", torch::kBool}};
  CHECK(t.scalar_type() == kTypes.at(e["dtype"].get<std::string>()));
  CHECK(t.sizes().vec() == e["shape"].get<std::vector<int64_t>>());
  auto flat = t.flatten();
  const Json& values = e["values"];
  REQUIRE(static_cast<size_t>(flat.numel()) == values.size());
  if (t.is_floating_point()) {
    auto d = flat.to(torch::kDouble);
    for (size_t i = 0; i < values.size(); ++i)
      CHECK(d[i].item<double>() == values[i].get<double>());
  } else {
    auto d = flat.to(torch::kLong);
    for (size_t i = 0; i < values.size(); ++i)
      CHECK(d[i].item<int64_t>() == values[i].get<int64_t>());
  }
}

template <class F>
std::string ErrorOf(F&& f) {
  try {
    f();
  } catch (const SafetensorsError& e) {
    return e.what();
  }
  return "<no error>";
}

void Contains(const std::string& msg, std::initializer_list<std::string> parts) {
  INFO(msg);
  for (auto& p : parts) CHECK(msg.find(p) != std::string::npos);
}

std::string Slurp(const fs::path& p) {
  return vstar::test::ReadFile(p);
}

// Rewrites a file's header (keeps the data section).
void WriteWithHeader(const fs::path& out, const std::string& header, const std::string& data) {
  std::string bytes(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(n >> (8 * i));
  vstar::test::WriteFile(out, bytes + header + data);
}

}  // namespace

TEST_CASE("safetensors: reads every dtype written by the python package", "[safetensors]") {
  Json expected = Json::parse(Slurp(Fixtures() / "expected.json"));
  auto f = SafetensorsFile::Open(Fixtures() / "dtypes.safetensors");
  CHECK(f->metadata().at("format") == "pt");
  CHECK(f->metadata().at("note") == "vstar golden");
  CHECK(f->tensors().size() == expected["dtypes"].size());
  for (auto& [name, e] : expected["dtypes"].items()) CheckAgainst(f->Get(name), e, name);
}

TEST_CASE("safetensors: tensors alias the mapping and outlive the file object", "[safetensors]") {
  torch::Tensor t;
  {
    auto f = SafetensorsFile::Open(Fixtures() / "dtypes.safetensors");
    t = f->Get("f32");
    auto again = f->Get("f32");
    CHECK(t.data_ptr() == again.data_ptr());  // zero-copy: both views of the same mapped bytes
  }
  Json expected = Json::parse(Slurp(Fixtures() / "expected.json"));
  CheckAgainst(t, expected["dtypes"]["f32"], "f32 after close");
  // In-place writes touch private copy-on-write pages, not the file.
  std::string before = Slurp(Fixtures() / "dtypes.safetensors");
  t.add_(1.0f);
  CHECK(Slurp(Fixtures() / "dtypes.safetensors") == before);
  CheckAgainst(SafetensorsFile::Open(Fixtures() / "dtypes.safetensors")->Get("f32"), expected["dtypes"]["f32"],
               "f32 reopened");
}

TEST_CASE("safetensors: sharded 4.52+ layout maps to canonical Hub names", "[safetensors]") {
  Json expected = Json::parse(Slurp(Fixtures() / "expected.json"));
  Checkpoint c = Checkpoint::Open(Fixtures() / "sharded");
  CHECK(c.new_layout());
  CHECK(c.Names() == std::vector<std::string>{"lm_head.weight", "model.embed_tokens.weight",
                                              "model.layers.0.self_attn.q_proj.bias",
                                              "visual.merger.ln_q.weight"});
  for (auto& [stored, e] : expected["sharded"].items()) {
    std::string canon = CanonicalName(stored);
    CHECK(NewLayoutName(canon) == stored);
    CheckAgainst(c.Get(canon), e, stored);
  }
  CHECK(c.FileOf("visual.merger.ln_q.weight").filename() == "model-00002-of-00002.safetensors");
  // Opening the index file itself works too.
  CHECK(Checkpoint::Open(Fixtures() / "sharded/model.safetensors.index.json").Names().size() == 4);
  Contains(ErrorOf([&] { c.Get("model.norm.weight"); }), {"model.norm.weight", "sharded"});
}

TEST_CASE("safetensors: key name mapping", "[safetensors]") {
  CHECK(CanonicalName("model.language_model.layers.3.mlp.up_proj.weight") ==
        "model.layers.3.mlp.up_proj.weight");
  CHECK(CanonicalName("model.visual.blocks.0.attn.qkv.weight") ==
        "visual.blocks.0.attn.qkv.weight");
  CHECK(CanonicalName("model.norm.weight") == "model.norm.weight");
  CHECK(CanonicalName("visual.patch_embed.proj.weight") == "visual.patch_embed.proj.weight");
  CHECK(CanonicalName("lm_head.weight") == "lm_head.weight");
  CHECK(NewLayoutName("model.norm.weight") == "model.language_model.norm.weight");
  CHECK(NewLayoutName("visual.merger.mlp.0.bias") == "model.visual.merger.mlp.0.bias");
  CHECK(NewLayoutName("lm_head.weight") == "lm_head.weight");
}

TEST_CASE("safetensors: write then read is bit-exact, header matches the python package",
          "[safetensors]") {
  fs::path dir = vstar::test::TempDir("st-roundtrip");
  auto src = SafetensorsFile::Open(Fixtures() / "dtypes.safetensors");
  // Write the same tensors in the same (sorted) order with the same metadata: the python package
  // sorts by dtype size then name, so compare tensors and metadata rather than the raw bytes.
  NamedTensors all;
  for (auto& [name, info] : src->tensors()) all.emplace_back(name, src->Get(name));
  SaveSafetensors(all, dir / "out.safetensors", src->metadata());
  auto back = SafetensorsFile::Open(dir / "out.safetensors");
  CHECK(back->metadata() == src->metadata());
  for (auto& [name, info] : src->tensors()) {
    INFO(name);
    auto a = src->Get(name), b = back->Get(name);
    CHECK(a.scalar_type() == b.scalar_type());
    CHECK(a.sizes() == b.sizes());
    CHECK(std::memcmp(a.data_ptr(), b.data_ptr(), a.numel() * a.element_size()) == 0);
  }
  // Header length is a multiple of 8 as the python package writes it, so tensors stay aligned.
  std::string bytes = Slurp(dir / "out.safetensors");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  CHECK(n % 8 == 0);
  // Non-contiguous input is written as its logical values.
  auto m = torch::arange(12, torch::kFloat).reshape({3, 4}).t();
  SaveSafetensors({{"t", m}}, dir / "t.safetensors");
  CHECK(torch::equal(SafetensorsFile::Open(dir / "t.safetensors")->Get("t"), m));
}

TEST_CASE("safetensors: sharded checkpoint writer with index, both layouts", "[safetensors]") {
  fs::path dir = vstar::test::TempDir("st-shards");
  torch::manual_seed(0);
  NamedTensors ts = {
      {"model.language_model.embed_tokens.weight", torch::randn({64, 16})},  // 4096 bytes
      {"model.language_model.layers.0.input_layernorm.weight", torch::randn({16})},
      {"model.visual.blocks.0.attn.qkv.weight", torch::randn({48, 16}).to(torch::kBFloat16)},
      {"lm_head.weight", torch::randn({64, 16})},
  };
  SaveOptions opt;
  opt.max_shard_bytes = 4200;
  auto files = SaveCheckpoint(ts, dir, opt);
  REQUIRE(files.size() == 4);  // 3 shards + index
  CHECK(files[0].filename() == "model-00001-of-00003.safetensors");
  CHECK(files.back().filename() == "model.safetensors.index.json");
  Json index = Json::parse(Slurp(dir / "model.safetensors.index.json"));
  CHECK(index["metadata"]["total_size"] == 4096 + 64 + 48 * 16 * 2 + 4096);
  CHECK(index["weight_map"]["model.embed_tokens.weight"] == "model-00001-of-00003.safetensors");
  CHECK(index["weight_map"]["visual.blocks.0.attn.qkv.weight"] ==
        "model-00002-of-00003.safetensors");
  CHECK(index["weight_map"]["lm_head.weight"] == "model-00003-of-00003.safetensors");
  Checkpoint c = Checkpoint::Open(dir);
  CHECK_FALSE(c.new_layout());
  for (auto& [name, t] : ts) CHECK(torch::equal(c.Get(CanonicalName(name)), t));

  fs::path dir2 = vstar::test::TempDir("st-single");
  SaveOptions one;
  one.hub_layout = false;
  files = SaveCheckpoint(ts, dir2, one);
  REQUIRE(files.size() == 1);
  CHECK(files[0].filename() == "model.safetensors");
  auto f = SafetensorsFile::Open(files[0]);
  CHECK(f->Has("model.language_model.embed_tokens.weight"));
  CHECK(f->Has("model.visual.blocks.0.attn.qkv.weight"));
  CHECK(Checkpoint::Open(dir2).new_layout());
}

TEST_CASE("safetensors: truncated and malformed files give errors naming file and tensor",
          "[safetensors]") {
  fs::path dir = vstar::test::TempDir("st-bad");
  std::string good = Slurp(Fixtures() / "dtypes.safetensors");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(good[i]);
  std::string header = good.substr(8, n), data = good.substr(8 + n);

  // Truncated in the data: the last tensor (by offset) is named.
  Json h = Json::parse(header);
  std::string last;
  uint64_t last_end = 0;
  for (auto& [k, v] : h.items())
    if (k != "__metadata__" && v["data_offsets"][1].get<uint64_t>() >= last_end &&
        v["data_offsets"][1].get<uint64_t>() > v["data_offsets"][0].get<uint64_t>()) {
      last_end = v["data_offsets"][1];
      last = k;
    }
  fs::path p = dir / "trunc.safetensors";
  vstar::test::WriteFile(p, good.substr(0, good.size() - 3));
  Contains(ErrorOf([&] { SafetensorsFile::Open(p); }), {p.string(), "truncated", "'" + last + "'"});

  // Truncated inside the header and before the length.
  vstar::test::WriteFile(p, good.substr(0, 8 + n / 2));
  Contains(ErrorOf([&] { SafetensorsFile::Open(p); }), {p.string(), "truncated", "header"});
  vstar::test::WriteFile(p, good.substr(0, 5));
  Contains(ErrorOf([&] { SafetensorsFile::Open(p); }), {p.string(), "truncated"});

  // Bad headers.
  fs::path b = dir / "bad.safetensors";
  WriteWithHeader(b, "{not json", data);
  Contains(ErrorOf([&] { SafetensorsFile::Open(b); }), {b.string(), "bad header", "JSON"});
  std::string huge(8, '\xff');
  vstar::test::WriteFile(b, huge + header + data);
  Contains(ErrorOf([&] { SafetensorsFile::Open(b); }), {b.string(), "header length"});
  Json h2 = h;
  h2["f32"]["shape"] = {6};
  WriteWithHeader(b, h2.dump(), data);
  Contains(ErrorOf([&] { SafetensorsFile::Open(b); }), {b.string(), "'f32'", "shape"});
  h2 = h;
  h2["f32"]["dtype"] = "Q4";
  WriteWithHeader(b, h2.dump(), data);
  Contains(ErrorOf([&] { SafetensorsFile::Open(b); }), {b.string(), "'f32'", "Q4"});
  h2 = h;
  h2.erase("i8");  // leaves a hole in the data section
  WriteWithHeader(b, h2.dump(), data);
  Contains(ErrorOf([&] { SafetensorsFile::Open(b); }), {b.string(), "hole"});
  WriteWithHeader(b, header, data + "xx");  // trailing bytes
  Contains(ErrorOf([&] { SafetensorsFile::Open(b); }), {b.string(), "data bytes"});
  Contains(ErrorOf([&] { SafetensorsFile::Open(dir / "absent.safetensors"); }),
           {"absent.safetensors", "cannot open"});
}

TEST_CASE("safetensors: an index that disagrees with its shards is rejected", "[safetensors]") {
  fs::path dir = vstar::test::TempDir("st-index");
  for (auto& e : fs::directory_iterator(Fixtures() / "sharded"))
    fs::copy_file(e.path(), dir / e.path().filename());
  Json index = Json::parse(Slurp(dir / "model.safetensors.index.json"));
  index["weight_map"]["lm_head.weight"] = "model-00001-of-00002.safetensors";
  vstar::test::WriteFile(dir / "model.safetensors.index.json", index.dump());
  Contains(ErrorOf([&] { Checkpoint::Open(dir); }),
           {"model.safetensors.index.json", "'lm_head.weight'"});
  index["weight_map"]["lm_head.weight"] = "model-00003-of-00002.safetensors";
  vstar::test::WriteFile(dir / "model.safetensors.index.json", index.dump());
  Contains(ErrorOf([&] { Checkpoint::Open(dir); }),
           {"model-00003-of-00002.safetensors", "cannot open"});
  index["weight_map"].erase("lm_head.weight");
  index["weight_map"]["lm_head.weight"] = "model-00002-of-00002.safetensors";
  index["weight_map"].erase("model.visual.merger.ln_q.weight");
  vstar::test::WriteFile(dir / "model.safetensors.index.json", index.dump());
  Contains(ErrorOf([&] { Checkpoint::Open(dir); }), {"model.visual.merger.ln_q.weight", "missing"});
}

namespace {

// Canonical names and shapes of a Qwen2.5-VL checkpoint (transformers' Qwen2_5_VLForConditionalGeneration state dict).
NamedTensors RandomWeights(const QwenVLConfig& c) {
  NamedTensors w;
  auto add = [&](const std::string& n, std::vector<int64_t> shape) {
    w.emplace_back(n, torch::randn(shape) * 0.02);
  };
  int64_t H = c.hidden_size, I = c.intermediate_size, hd = c.head_dim;
  add("model.embed_tokens.weight", {c.vocab_size, H});
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    std::string p = "model.layers." + std::to_string(i) + ".";
    add(p + "input_layernorm.weight", {H});
    add(p + "post_attention_layernorm.weight", {H});
    add(p + "self_attn.q_proj.weight", {c.num_attention_heads * hd, H});
    add(p + "self_attn.q_proj.bias", {c.num_attention_heads * hd});
    add(p + "self_attn.k_proj.weight", {c.num_key_value_heads * hd, H});
    add(p + "self_attn.k_proj.bias", {c.num_key_value_heads * hd});
    add(p + "self_attn.v_proj.weight", {c.num_key_value_heads * hd, H});
    add(p + "self_attn.v_proj.bias", {c.num_key_value_heads * hd});
    add(p + "self_attn.o_proj.weight", {H, c.num_attention_heads * hd});
    add(p + "mlp.gate_proj.weight", {I, H});
    add(p + "mlp.up_proj.weight", {I, H});
    add(p + "mlp.down_proj.weight", {H, I});
  }
  add("model.norm.weight", {H});
  if (!c.tie_word_embeddings) add("lm_head.weight", {c.vocab_size, H});
  const auto& v = c.vision;
  int64_t VH = v.hidden_size, VI = v.intermediate_size;
  add("visual.patch_embed.proj.weight",
      {VH, v.in_channels, v.temporal_patch_size, v.patch_size, v.patch_size});
  for (int64_t j = 0; j < v.depth; ++j) {
    std::string p = "visual.blocks." + std::to_string(j) + ".";
    add(p + "norm1.weight", {VH});
    add(p + "norm2.weight", {VH});
    add(p + "attn.qkv.weight", {3 * VH, VH});
    add(p + "attn.qkv.bias", {3 * VH});
    add(p + "attn.proj.weight", {VH, VH});
    add(p + "attn.proj.bias", {VH});
    add(p + "mlp.gate_proj.weight", {VI, VH});
    add(p + "mlp.gate_proj.bias", {VI});
    add(p + "mlp.up_proj.weight", {VI, VH});
    add(p + "mlp.up_proj.bias", {VI});
    add(p + "mlp.down_proj.weight", {VH, VI});
    add(p + "mlp.down_proj.bias", {VH});
  }
  add("visual.merger.ln_q.weight", {VH});
  add("visual.merger.mlp.0.weight", {v.merger_dim(), v.merger_dim()});
  add("visual.merger.mlp.0.bias", {v.merger_dim()});
  add("visual.merger.mlp.2.weight", {v.out_hidden_size, v.merger_dim()});
  add("visual.merger.mlp.2.bias", {v.out_hidden_size});
  return w;
}

}  // namespace

TEST_CASE("safetensors: transformers loads a checkpoint we wrote (sharded, Hub layout)",
          "[safetensors][python]") {
  VSTAR_REQUIRE_VENV();
  const fs::path py = vstar::test::VenvPython();
  fs::path cfgs = vstar::test::FixtureDir() / "model/config";
  for (const char* name : {"tiny_tied", "tiny_untied"}) {
    INFO(name);
    QwenVLConfig c = LoadConfig(cfgs / (std::string(name) + ".config.json"));
    fs::path dir = vstar::test::TempDir(std::string("st-hf-") + name);
    torch::manual_seed(1);
    NamedTensors w = RandomWeights(c);
    SaveOptions opt;
    opt.max_shard_bytes = 200 * 1000;
    SaveCheckpoint(w, dir, opt);
    SaveConfig(c, dir / "config.json");
    auto r = vstar::test::Run(
        {py.string(), (vstar::test::SourceDir() / "tools/golden/safetensors_check.py").string(),
         dir.string()});
    INFO(r.err);
    REQUIRE(r.status == 0);
    Json report = Json::parse(r.out);
    CHECK(report["missing_keys"].empty());
    CHECK(report["unexpected_keys"].empty());
    CHECK(report["mismatched_keys"].empty());
    CHECK(report["tie_word_embeddings"] == c.tie_word_embeddings);
    CHECK(report["num_shards"].get<int>() > 1);
    // Every parameter transformers loaded equals what we wrote (double sums of the exact values).
    std::map<std::string, torch::Tensor> mine(w.begin(), w.end());
    if (c.tie_word_embeddings) mine["lm_head.weight"] = mine["model.embed_tokens.weight"];
    CHECK(report["params"].size() == mine.size());
    for (auto& [n, s] : report["params"].items()) {
      INFO(n);
      REQUIRE(mine.count(n));
      CHECK(s["shape"].get<std::vector<int64_t>>() == mine[n].sizes().vec());
      CHECK(s["sum"].get<double>() ==
            Approx(mine[n].to(torch::kDouble).sum().item<double>()).epsilon(1e-12).margin(1e-12));
      CHECK(s["abs_sum"].get<double>() ==
            Approx(mine[n].to(torch::kDouble).abs().sum().item<double>()).epsilon(1e-12));
    }
  }
}

TEST_CASE("safetensors: the tiny golden model round-trips through our writer into transformers "
          "with identical logits",
          "[safetensors][python]") {
  VSTAR_REQUIRE_VENV();
  const fs::path py = vstar::test::VenvPython();
  // Read the transformers-written fixture (4.57 key layout), write it back in the Hub layout,
  // sharded; transformers must load ours and compute exactly the fixture's logits.
  fs::path ref = vstar::test::FixtureDir() / "model/tiny/model";
  Checkpoint in = Checkpoint::Open(ref);
  NamedTensors w;
  for (const auto& n : in.Names()) w.emplace_back(n, in.Get(n));
  fs::path dir = vstar::test::TempDir("st-roundtrip");
  SaveOptions opt;
  opt.max_shard_bytes = 100 * 1000;
  SaveCheckpoint(w, dir, opt);
  SaveConfig(LoadConfig(ref), dir / "config.json");
  auto r = vstar::test::Run({py.string(),
                             (vstar::test::SourceDir() / "tools/golden/safetensors_check.py").string(),
                             dir.string(), "--logits-vs", ref.string()});
  INFO(r.err);
  REQUIRE(r.status == 0);
  Json report = Json::parse(r.out);
  CHECK(report["missing_keys"].empty());
  CHECK(report["unexpected_keys"].empty());
  CHECK(report["num_shards"].get<int>() > 1);
  REQUIRE(report["logits"].contains("max_abs_diff"));
  CHECK(report["logits"]["max_abs_diff"].get<double>() == 0.0);
  CHECK(report["logits"]["argmax_equal"].get<bool>());
}

// Files nobody here wrote: shapes whose byte size overflows, offsets outside the data and indexes
// naming shards outside the checkpoint directory are refused before a tensor is mapped
// (model/safetensors_header.hpp; found by tests/fuzz, target safetensors).
namespace {
// The header of a file holding one tensor "w".
std::string OneTensor(const char* dtype, const Json& shape, const Json& offsets) {
  return Json{{"w", {{"dtype", dtype}, {"shape", shape}, {"data_offsets", offsets}}}}.dump();
}
}  // namespace

TEST_CASE("safetensors: a shape whose byte size wraps around 2^64 is refused", "[safetensors]") {
  fs::path dir = vstar::test::TempDir("st-overflow");
  fs::path p = dir / "wrap.safetensors";
  // 4 bytes * 2^62 * 4 = 2^66 bytes, which is 0 modulo 2^64: it matched the empty data_offsets span,
  // and Get() returned a tensor of 2^64 elements over a file of a few bytes.
  WriteWithHeader(p, OneTensor("F32", Json::array({1ull << 62, 4}), Json::array({0, 0})), "");
  std::string e = ErrorOf([&] { SafetensorsFile::Open(p); });
  INFO(e);
  CHECK(e.find(p.string()) != std::string::npos);
  CHECK(e.find("'w'") != std::string::npos);
  CHECK(e.find("overflows") != std::string::npos);

  // A dimension beyond int64 (it read as a negative size).
  WriteWithHeader(p, OneTensor("U8", Json::array({UINT64_MAX}), Json::array({0, 0})), "");
  e = ErrorOf([&] { SafetensorsFile::Open(p); });
  INFO(e);
  CHECK(e.find("non-negative integers") != std::string::npos);
}

TEST_CASE("safetensors: data_offsets outside the data section are refused", "[safetensors]") {
  fs::path dir = vstar::test::TempDir("st-offsets");
  fs::path p = dir / "far.safetensors";
  const uint64_t far = 1ull << 62;
  WriteWithHeader(p, OneTensor("F32", Json::array({1}), Json::array({far, far + 4})), "abcd");
  std::string e = ErrorOf([&] { SafetensorsFile::Open(p); });
  INFO(e);
  CHECK(e.find("'w' ends at data byte") != std::string::npos);
  WriteWithHeader(p, OneTensor("F32", Json::array({1}), Json::array({8, 4})), "abcd");
  e = ErrorOf([&] { SafetensorsFile::Open(p); });
  INFO(e);
  CHECK(e.find("end < begin") != std::string::npos);
  // The valid form of the same file opens.
  WriteWithHeader(p, OneTensor("F32", Json::array({1}), Json::array({0, 4})), "abcd");
  CHECK(SafetensorsFile::Open(p)->tensors().at("w").end == 4);
}

TEST_CASE("safetensors: an index naming shards outside the checkpoint directory is refused",
          "[safetensors]") {
  fs::path root = vstar::test::TempDir("st-escape");
  fs::path ckpt = root / "ckpt";
  fs::create_directories(ckpt / "sub");
  // A valid shard outside the checkpoint: following the name would map it.
  const std::string header = OneTensor("U8", Json::array({4}), Json::array({0, 4}));
  WriteWithHeader(root / "outside.safetensors", header, "abcd");
  WriteWithHeader(ckpt / "sub" / "inside.safetensors", header, "abcd");

  for (std::string name : {std::string("../outside.safetensors"),
                           std::string("sub/../../outside.safetensors"),
                           (root / "outside.safetensors").string(), std::string()}) {
    vstar::test::WriteFile(ckpt / "model.safetensors.index.json",
                           Json{{"weight_map", {{"w", name}}}}.dump());
    std::string e = ErrorOf([&] { Checkpoint::Open(ckpt); });
    INFO(name << ": " << e);
    CHECK(e.find("model.safetensors.index.json") != std::string::npos);
    CHECK(e.find("not a file inside the checkpoint directory") != std::string::npos);
  }
  // A shard in a subdirectory of the checkpoint is inside it.
  vstar::test::WriteFile(ckpt / "model.safetensors.index.json",
                         Json{{"weight_map", {{"w", "sub/inside.safetensors"}}}}.dump());
  CHECK(Checkpoint::Open(ckpt).Has("w"));
}

TEST_CASE("safetensors: pickle (torch.save) checkpoints are refused by name, never unpickled",
          "[safetensors]") {
  fs::path ckpt = vstar::test::TempDir("st-pickle");
  // The first bytes torch.save writes: a zip archive (PyTorch >= 1.6) or a protocol-2 pickle.
  const std::string zip("PK\x03\x04\x00\x00\x08\x08\x00\x00", 10);
  const std::string pickle("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8", 12);
  for (const std::string& bytes : {zip, pickle}) {
    vstar::test::WriteFile(ckpt / "pytorch_model.bin", bytes);
    std::string dir_error = ErrorOf([&] { Checkpoint::Open(ckpt); });
    INFO(dir_error);
    CHECK(dir_error.find("pytorch_model.bin") != std::string::npos);
    CHECK(dir_error.find("never loaded") != std::string::npos);
    vstar::test::WriteFile(ckpt / "model.safetensors", bytes);  // renamed: the bytes still tell
    std::string file_error = ErrorOf([&] { Checkpoint::Open(ckpt / "model.safetensors"); });
    INFO(file_error);
    CHECK(file_error.find("pickle") != std::string::npos);
    fs::remove(ckpt / "model.safetensors");
  }
  // A real safetensors file whose header length starts with the same byte (0x280 = 640) still
  // reads.
  std::string header = OneTensor("U8", Json::array({4}), Json::array({0, 4}));
  header += std::string(640 - header.size(), ' ');
  WriteWithHeader(ckpt / "ok.safetensors", header, "abcd");
  CHECK(Checkpoint::Open(ckpt / "ok.safetensors").Has("w"));
}
