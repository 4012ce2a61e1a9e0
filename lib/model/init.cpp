#include "model/init.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "model/bpe_trainer.hpp"
#include "model/text.hpp"
#include "model/tokenizer.hpp"
#include "model/vision.hpp"

namespace vstar::model {

NamedTensors RandomWeights(const QwenVLConfig& config, const InitOptions& options) {
  config.Validate();
  VisionTower vision(config.vision);
  TextModel text(config);
  ParamRefs refs;
  vision.Collect(refs, "visual.");
  text.Collect(refs);
  torch::Tensor head;
  if (!config.tie_word_embeddings)
    refs.push_back({"lm_head.weight", {config.vocab_size, config.hidden_size}, &head});

  auto gen = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  NamedTensors out;
  out.reserve(refs.size());
  for (const auto& ref : refs) {
    const std::string& n = ref.name;
    const bool is_bias = n.size() > 5 && n.compare(n.size() - 5, 5, ".bias") == 0;
    // RMSNorm weights: the decoder's input/post-attention norms and final norm, the vision blocks'
    // norm1/norm2 and the merger's ln_q; all 1-D.
    const bool is_norm = ref.shape.size() == 1 && !is_bias;
    torch::Tensor t;
    if (is_bias) {
      t = torch::zeros(ref.shape, torch::kFloat32);
    } else if (is_norm) {
      t = torch::ones(ref.shape, torch::kFloat32);
    } else {
      t = at::normal(0.0, options.std, ref.shape, gen,
                     torch::TensorOptions().dtype(torch::kFloat32));
      if (n == "model.embed_tokens.weight" && options.padding_idx >= 0 &&
          options.padding_idx < ref.shape[0])
        t[options.padding_idx].zero_();
    }
    out.emplace_back(n, t.to(options.dtype));
  }
  return out;
}

}  // namespace vstar::model

namespace vstar::model {
namespace fs = std::filesystem;

void NewCheckpointOptions::Register(CLI::App& app) {
  app.add_option("--out", out, "Checkpoint directory to write")->required();
  app.add_option("--config", config,
                 "config.json giving the architecture (sizes, layers, vision tower)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--tokenizer", tokenizer,
                 "Copy the tokenizer in this directory instead of training one")
      ->check(CLI::ExistingDirectory);
  app.add_option("--corpus", corpus,
                 "Text files to train the byte-level BPE on (one document per line; a conversation "
                 "record line gives its messages' texts)")
      ->check(CLI::ExistingFile);
  app.add_option("--vocab-size", vocab_size,
                 "BPE symbols to train (256-symbol byte alphabet + merges)")
      ->capture_default_str();
  app.add_option("--min-frequency", min_frequency, "Never merge a pair seen fewer times")
      ->capture_default_str();
  app.add_option("--seed", seed, "Seed of the weight initialisation")->capture_default_str();
  app.add_option("--dtype", dtype, "Stored dtype")
      ->check(CLI::IsMember({"fp32", "bf16"}))
      ->capture_default_str();
  app.add_flag("--force", force, "Replace an existing --out directory");
}

namespace {

// One document per line; a line holding a conversation record ({"messages": [...]} and perhaps
// "turn2_messages", what vs-decompose writes and vs-sft reads) gives the texts of its messages
// instead, so the tokenizer can be trained on the very chains the model will learn.
std::vector<std::string> ReadLines(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot read corpus " + file.string());
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    if (line.front() == '{') {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded() && j.is_object() && j.contains("messages") &&
          j["messages"].is_array()) {
        for (const char* field : {"messages", "turn2_messages"}) {
          if (!j.contains(field) || !j[field].is_array()) continue;
          for (const auto& m : j[field]) {
            if (!m.is_object() || !m.contains("content")) continue;
            const auto& c = m["content"];
            if (c.is_string() && !c.get<std::string>().empty())
              lines.push_back(c.get<std::string>());
            if (!c.is_array()) continue;
            for (const auto& item : c)
              if (item.is_object() && item.value("type", "") == "text" && item.contains("text") &&
                  item["text"].is_string())
                lines.push_back(item["text"].get<std::string>());
          }
        }
        continue;
      }
    }
    lines.push_back(line);
  }
  return lines;
}

int64_t RequireToken(const Tokenizer& tok, const std::string& token, const std::string& where) {
  auto id = tok.TokenToId(token);
  if (!id)
    throw std::invalid_argument("tokenizer " + where + " has no " + token +
                                " token, which Qwen2.5-VL needs");
  return *id;
}

}  // namespace

NewCheckpointSummary WriteNewCheckpoint(const NewCheckpointOptions& o) {
  if (o.tokenizer.empty() == o.corpus.empty())
    throw std::invalid_argument(
        "give either --tokenizer DIR (copy) or --corpus FILE... (train), not both or neither");
  const fs::path out(o.out);
  if (fs::exists(out) && !fs::is_empty(out) && !o.force)
    throw std::invalid_argument(out.string() +
                                " exists and is not empty (use --force to replace it)");
  QwenVLConfig config = LoadConfig(o.config);
  fs::path parent = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  fs::create_directories(parent);
  const fs::path tmp =
      parent / ("." + out.filename().string() + ".tmp-" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  try {
    NewCheckpointSummary summary;
    if (!o.tokenizer.empty()) {
      for (const char* f : {"tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt",
                            "chat_template.json", "chat_template.jinja"})
        if (fs::exists(fs::path(o.tokenizer) / f))
          fs::copy_file(fs::path(o.tokenizer) / f, tmp / f);
    } else {
      std::vector<std::string> docs;
      for (const auto& f : o.corpus) {
        auto lines = ReadLines(f);
        docs.insert(docs.end(), std::make_move_iterator(lines.begin()),
                    std::make_move_iterator(lines.end()));
      }
      TrainByteLevelBpe(docs, {o.vocab_size, o.min_frequency}, tmp);
      summary.trained_tokenizer = true;
    }
    const Tokenizer tok = Tokenizer::Load(tmp);
    const std::string where = o.tokenizer.empty() ? "trained" : o.tokenizer;
    config.bos_token_id = RequireToken(tok, "<|endoftext|>", where);
    config.eos_token_id = RequireToken(tok, "<|im_end|>", where);
    config.vision_start_token_id = RequireToken(tok, "<|vision_start|>", where);
    config.vision_end_token_id = RequireToken(tok, "<|vision_end|>", where);
    config.vision_token_id = RequireToken(tok, "<|vision_pad|>", where);
    config.image_token_id = RequireToken(tok, "<|image_pad|>", where);
    config.video_token_id = RequireToken(tok, "<|video_pad|>", where);
    summary.vocab = static_cast<int64_t>(tok.size());
    // Added tokens may sit above the vocabulary with a gap (a small tokenizer that keeps Qwen's
    // special ids at 1000+): every id needs a row.
    int64_t rows = summary.vocab;
    for (const auto& added : tok.added_tokens()) rows = std::max<int64_t>(rows, added.id + 1);
    // Embedding rows rounded up to a multiple of 64, as Qwen pads 151,665 tokens to 151,936 rows;
    // the padded rows are never produced (the engine drops their ids, as transformers does).
    config.vocab_size = (rows + 63) / 64 * 64;
    summary.vocab_rows = config.vocab_size;
    config.torch_dtype = o.dtype == "bf16" ? "bfloat16" : "float32";
    config.source = o.config;
    InitOptions init;
    init.seed = o.seed;
    init.dtype = o.dtype == "bf16" ? torch::kBFloat16 : torch::kFloat32;
    const NamedTensors weights = RandomWeights(config, init);
    for (const auto& [name, t] : weights) summary.parameters += t.numel();
    SaveConfig(config, tmp / "config.json");
    SaveCheckpoint(weights, tmp);
    if (fs::exists(out)) fs::remove_all(out);
    fs::rename(tmp, out);
    return summary;
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace vstar::model
