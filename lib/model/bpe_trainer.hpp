#pragma once
// Trains a byte-level BPE vocabulary of the Qwen2 kind on a text corpus and writes it as a Hugging Face
// tokenizer (tokenizer.json + tokenizer_config.json) that both our Tokenizer and the `tokenizers`
// package load. The algorithm is the one of tokenizers' BpeTrainer (huggingface/tokenizers,
// tokenizers/src/models/bpe/trainer.rs): count the pre-tokenizer pieces, start from the 256-symbol
// byte alphabet, repeatedly merge the most frequent adjacent pair (ties: the pair whose merged string
// is smallest, for determinism), stop at the vocabulary size or when no pair is frequent enough.
// Used where no pretrained vocabulary exists, e.g. a miniature model whose 152k-row Qwen embedding
// would dominate the compute.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace vstar::model {

struct BpeTrainOptions {
  int64_t vocab_size = 1024;   // BPE symbols (alphabet + merges), special tokens come after
  int64_t min_frequency = 2;   // a pair seen fewer times is never merged
};

struct TrainedTokenizer {
  int64_t bpe_size = 0;       // alphabet + merges
  int64_t merges = 0;
  int64_t total_size = 0;     // bpe_size + special tokens
  std::vector<std::pair<std::string, int64_t>> special_ids;  // the Qwen2.5-VL special tokens' ids
};

// The special tokens a Qwen2.5-VL chat needs, in the order their ids follow the BPE symbols.
const std::vector<std::string>& QwenSpecialTokens();

// Trains on `corpus` (one document per entry) and writes tokenizer.json and tokenizer_config.json into
// `dir` (created). Throws std::runtime_error naming the directory when it cannot be written.
TrainedTokenizer TrainByteLevelBpe(const std::vector<std::string>& corpus, const BpeTrainOptions& options,
                                   const std::filesystem::path& dir);

}  // namespace vstar::model
