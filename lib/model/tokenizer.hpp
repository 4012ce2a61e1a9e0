#pragma once
// Qwen2 byte-level BPE tokenizer, equal to HF `tokenizers`: added-token split (leftmost-longest
// over all added tokens), NFC, the Qwen2 pre-tokenizer regex (PCRE2, UTF+UCP), the
// GPT-2 byte map and ranked merges. Reads tokenizer.json, or vocab.json + merges.txt +
// tokenizer_config.json. Thread-safe after Load (the per-piece cache is locked).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace vstar::model {

using TokenId = int64_t;

// Raised for unreadable or inconsistent tokenizer files; the message names the file.
struct TokenizerError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct AddedToken {
  TokenId id = 0;
  std::string content;
  bool special = false;
};

class Tokenizer {
 public:
  // `path`: a directory holding tokenizer.json (preferred) or vocab.json + merges.txt
  // (+ tokenizer_config.json for the added tokens), or the tokenizer.json file itself.
  static Tokenizer Load(const std::filesystem::path& path);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Text -> ids. Added tokens in the text (also special ones such as <|im_start|>) become their ids,
  // as HF does with split_special_tokens=false. No BOS/EOS is added.
  std::vector<TokenId> Encode(std::string_view text) const;
  // Ids -> text; invalid UTF-8 becomes U+FFFD (errors="replace"). skip_special_tokens drops only
  // tokens flagged special (not <tool_call> etc.). Unknown ids throw TokenizerError.
  std::string Decode(const std::vector<TokenId>& ids, bool skip_special_tokens = false) const;

  std::optional<TokenId> TokenToId(std::string_view token) const;  // vocab or added token
  std::string IdToToken(TokenId id) const;  // byte-level string, or the added token's content
  bool IsSpecial(TokenId id) const;
  bool IsAdded(TokenId id) const;
  const std::vector<AddedToken>& added_tokens() const;
  // len(tokenizer): vocab + added tokens (151665 for Qwen2.5-VL).
  size_t size() const;
  size_t merges_size() const;

  // From tokenizer_config.json when present (else nullopt).
  std::optional<TokenId> eos_token_id() const;
  std::optional<TokenId> pad_token_id() const;
  // The chat template found next to the tokenizer: chat_template.json / chat_template.jinja (the
  // processor's, preferred) or tokenizer_config.json's "chat_template"; "" when none.
  const std::string& chat_template() const;
  // The file chat_template() came from; empty when there is none.
  const std::filesystem::path& chat_template_file() const;

  // Raw bytes of one token (the inverse byte map applied; an added token's content).
  std::string TokenBytes(TokenId id) const;

  // The pre-tokenizer pieces of `text` (NFC, then the Split regex; added tokens are not split out) in
  // byte-level form, each byte as its GPT-2 code point: the units BPE merges operate on (what
  // tokenizers' BpeTrainer counts). Used to train a vocabulary (model/bpe_trainer.hpp).
  std::vector<std::string> ByteLevelPieces(std::string_view text) const;

 private:
  Tokenizer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  friend class StreamDecoder;
};

// GPT-2 bytes_to_unicode: the byte-level symbol (UTF-8) that stands for one raw byte.
std::string ByteLevelSymbol(uint8_t byte);

// Incremental decoding for generation: Push returns the newly completed text, holding back an
// incomplete UTF-8 tail until the next ids complete it; Finish flushes (replacing what is left).
// Concatenating all outputs equals Decode(all ids).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens = false);
  std::string Push(TokenId id);
  std::string Finish();

 private:
  const Tokenizer* tok_;
  bool skip_special_;
  std::string pending_;  // bytes not yet emitted (an incomplete UTF-8 sequence)
};

}  // namespace vstar::model
