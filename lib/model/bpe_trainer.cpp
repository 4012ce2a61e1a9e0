#include "model/bpe_trainer.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "model/tokenizer.hpp"

namespace vstar::model {
namespace fs = std::filesystem;
namespace {

// The Qwen2 pre-tokenizer split (tokenizer.json of Qwen/Qwen2.5-VL-*), then the byte-level map.
const char* kQwen2Split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// The 256 initial symbols, in byte order.
std::vector<std::string> ByteAlphabet() {
  std::vector<std::string> out;
  for (int b = 0; b < 256; ++b) out.push_back(ByteLevelSymbol(static_cast<uint8_t>(b)));
  return out;
}

// Splits a byte-level piece into its symbols (one UTF-8 code point each).
std::vector<std::string> Symbols(const std::string& piece) {
  std::vector<std::string> out;
  for (size_t i = 0; i < piece.size();) {
    const unsigned char c = static_cast<unsigned char>(piece[i]);
    const size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : 4;
    out.push_back(piece.substr(i, len));
    i += len;
  }
  return out;
}

// tokenizer.json in the layout the `tokenizers` package writes for Qwen2 (keys in its order).
nlohmann::ordered_json TokenizerJson(const std::vector<std::string>& symbols,
                                     const std::vector<std::pair<std::string, std::string>>& merges,
                                     const std::vector<std::pair<std::string, int64_t>>& specials) {
  using Json = nlohmann::ordered_json;
  Json added = Json::array();
  for (const auto& [content, id] : specials)
    added.push_back({{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  Json vocab = Json::object();
  for (size_t i = 0; i < symbols.size(); ++i) vocab[symbols[i]] = static_cast<int64_t>(i);
  Json merge_list = Json::array();
  for (const auto& [a, b] : merges) merge_list.push_back({a, b});
  auto byte_level = [](bool trim_offsets) {
    return Json{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", trim_offsets},
                {"use_regex", false}};
  };
  Json split = {{"type", "Split"}, {"pattern", {{"Regex", kQwen2Split}}}, {"behavior", "Isolated"}, {"invert", false}};
  Json j = Json::object();
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  j["added_tokens"] = added;
  j["normalizer"] = {{"type", "NFC"}};
  j["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", Json::array({split, byte_level(true)})}};
  j["post_processor"] = byte_level(false);
  j["decoder"] = byte_level(false);
  j["model"] = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"ignore_merges", false},
                {"vocab", vocab},
                {"merges", merge_list}};
  return j;
}

void WriteText(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out << text;
  out.close();
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

}  // namespace

const std::vector<std::string>& QwenSpecialTokens() {
  static const std::vector<std::string> tokens = {"<|endoftext|>",   "<|im_start|>",    "<|im_end|>",
                                                  "<|vision_start|>", "<|vision_end|>",  "<|vision_pad|>",
                                                  "<|image_pad|>",   "<|video_pad|>"};
  return tokens;
}

TrainedTokenizer TrainByteLevelBpe(const std::vector<std::string>& corpus, const BpeTrainOptions& options,
                                   const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error("cannot create " + dir.string() + ": " + ec.message());
  std::vector<std::string> symbols = ByteAlphabet();
  if (options.vocab_size < static_cast<int64_t>(symbols.size()))
    throw std::invalid_argument("vocabulary size " + std::to_string(options.vocab_size) +
                                " is smaller than the 256-symbol byte alphabet");
  std::vector<std::pair<std::string, int64_t>> specials;
  auto special_ids = [&](int64_t base) {
    specials.clear();
    for (const auto& t : QwenSpecialTokens()) specials.emplace_back(t, base + static_cast<int64_t>(specials.size()));
  };

  // Pre-tokenise with a tokenizer that has only the alphabet: the same Split regex and byte map that
  // encoding will use, so what we count is exactly what the final tokenizer sees.
  special_ids(static_cast<int64_t>(symbols.size()));
  WriteText(dir / "tokenizer.json", TokenizerJson(symbols, {}, specials).dump());
  const Tokenizer base = Tokenizer::Load(dir / "tokenizer.json");
  std::map<std::string, int64_t> piece_counts;
  for (const auto& doc : corpus)
    for (auto& piece : base.ByteLevelPieces(doc)) ++piece_counts[piece];

  struct Word {
    std::vector<std::string> symbols;
    int64_t count;
  };
  std::vector<Word> words;
  words.reserve(piece_counts.size());
  for (const auto& [piece, count] : piece_counts) words.push_back({Symbols(piece), count});

  std::vector<std::pair<std::string, std::string>> merges;
  while (static_cast<int64_t>(symbols.size()) < options.vocab_size) {
    std::map<std::pair<std::string, std::string>, int64_t> pairs;
    for (const auto& w : words)
      for (size_t i = 0; i + 1 < w.symbols.size(); ++i) pairs[{w.symbols[i], w.symbols[i + 1]}] += w.count;
    const std::pair<std::string, std::string>* best = nullptr;
    int64_t best_count = 0;
    std::string best_merged;
    for (const auto& [pair, count] : pairs) {
      std::string merged = pair.first + pair.second;
      if (count > best_count || (count == best_count && merged < best_merged)) {
        best = &pair;
        best_count = count;
        best_merged = std::move(merged);
      }
    }
    if (!best || best_count < options.min_frequency) break;
    const auto [a, b] = *best;
    merges.emplace_back(a, b);
    symbols.push_back(best_merged);
    for (auto& w : words) {
      std::vector<std::string> next;
      next.reserve(w.symbols.size());
      for (size_t i = 0; i < w.symbols.size(); ++i) {
        if (i + 1 < w.symbols.size() && w.symbols[i] == a && w.symbols[i + 1] == b) {
          next.push_back(best_merged);
          ++i;
        } else {
          next.push_back(std::move(w.symbols[i]));
        }
      }
      w.symbols = std::move(next);
    }
  }

  const auto bpe_size = static_cast<int64_t>(symbols.size());
  special_ids(bpe_size);
  WriteText(dir / "tokenizer.json", TokenizerJson(symbols, merges, specials).dump() + "\n");
  nlohmann::ordered_json decoder = nlohmann::ordered_json::object();
  for (const auto& [content, id] : specials)
    decoder[std::to_string(id)] = {{"content", content}, {"special", true}, {"normalized", false},
                                   {"lstrip", false},    {"rstrip", false}, {"single_word", false}};
  nlohmann::ordered_json config = {{"tokenizer_class", "Qwen2Tokenizer"},
                                   {"eos_token", "<|im_end|>"},
                                   {"pad_token", "<|endoftext|>"},
                                   {"bos_token", nullptr},
                                   {"add_bos_token", false},
                                   {"errors", "replace"},
                                   {"model_max_length", 32768},
                                   {"clean_up_tokenization_spaces", false},
                                   {"split_special_tokens", false},
                                   {"added_tokens_decoder", decoder}};
  WriteText(dir / "tokenizer_config.json", config.dump(2) + "\n");
  TrainedTokenizer out;
  out.bpe_size = bpe_size;
  out.merges = static_cast<int64_t>(merges.size());
  out.total_size = bpe_size + static_cast<int64_t>(specials.size());
  out.special_ids = specials;
  return out;
}

}  // namespace vstar::model
