// The tokenizer on arbitrary text: encode (added-token split, NFC, the pre-tokenizer regex, BPE),
// decode, and streaming decode of arbitrary ids, which must concatenate to the one-shot decode.
#include <cstring>
#include <string>
#include <vector>

#include "fuzz.hpp"
#include "model/tokenizer.hpp"

using vstar::model::TokenId;
using vstar::model::Tokenizer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Tokenizer tok =
      Tokenizer::Load(std::string(VSTAR_FIXTURE_DIR) + "/model/tiny/tokenizer.json");
  if (size == 0) return 0;
  const bool skip_special = data[0] & 1;
  std::string_view text = vstar::fuzz::Text(data + 1, size - 1);
  try {
    std::vector<TokenId> ids = tok.Encode(text);
    (void)tok.Decode(ids, skip_special);
    (void)tok.ByteLevelPieces(text);
  } catch (const vstar::model::TokenizerError&) {
    // Invalid UTF-8 is refused (NFC needs code points).
  }

  // The same bytes read as ids (two bytes each) of the tokenizer's tokens (its ids have holes).
  static const std::vector<TokenId> known = [] {
    std::vector<TokenId> ids;
    for (TokenId id = 0; id < static_cast<TokenId>(tok.size()) + 64; ++id) {
      try {
        (void)tok.TokenBytes(id);
        ids.push_back(id);
      } catch (const vstar::model::TokenizerError&) {
      }
    }
    return ids;
  }();
  std::vector<TokenId> raw;
  for (size_t i = 1; i + 1 < size; i += 2) {
    uint16_t v;
    std::memcpy(&v, data + i, 2);
    raw.push_back(known[v % known.size()]);
  }
  std::string whole = tok.Decode(raw, skip_special);
  vstar::model::StreamDecoder stream(tok, skip_special);
  std::string pieces;
  for (TokenId id : raw) pieces += stream.Push(id);
  pieces += stream.Finish();
  vstar::fuzz::Check(pieces == whole);
  return 0;
}
