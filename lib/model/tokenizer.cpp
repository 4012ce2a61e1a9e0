#include "model/tokenizer.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <simdjson.h>
#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <mutex>
#include <queue>
#include <shared_mutex>
#include <sstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "io/text.hpp"

namespace vstar::model {
namespace {

namespace fs = std::filesystem;

// The Qwen2 pre-tokenizer pattern (transformers tokenization_qwen2.py, PRETOKENIZE_REGEX).
constexpr const char* kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Pieces longer than this are not cached (long whitespace runs, random text).
constexpr size_t kMaxCachedPiece = 256;
constexpr size_t kCacheCapacity = 200000;

[[noreturn]] void Fail(const fs::path& file, const std::string& why) {
  throw TokenizerError(file.string() + ": " + why);
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// For a lead byte: the sequence length and the allowed range of the second byte (Unicode Table
// 3-7). Returns 0 for bytes that cannot start a sequence.
int LeadInfo(unsigned char b, unsigned char* lo, unsigned char* hi) {
  *lo = 0x80;
  *hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) return 2;
  if (b == 0xE0) {
    *lo = 0xA0;
    return 3;
  }
  if (b >= 0xE1 && b <= 0xEC) return 3;
  if (b == 0xED) {
    *hi = 0x9F;
    return 3;
  }
  if (b >= 0xEE && b <= 0xEF) return 3;
  if (b == 0xF0) {
    *lo = 0x90;
    return 4;
  }
  if (b >= 0xF1 && b <= 0xF3) return 4;
  if (b == 0xF4) {
    *hi = 0x8F;
    return 4;
  }
  return 0;
}

// Length of the well-formed sequence at s[i], or -k when only a maximal subpart of k bytes (k >= 1)
// is there (invalid or cut short at the end of the input).
int SequenceAt(std::string_view s, size_t i) {
  auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) return 1;
  unsigned char lo, hi;
  int len = LeadInfo(b, &lo, &hi);
  if (len == 0) return -1;
  int k = 1;
  for (; k < len; ++k) {
    if (i + k >= s.size()) return -k;
    auto c = static_cast<unsigned char>(s[i + k]);
    if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) return -k;
  }
  return len;
}

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    int n = SequenceAt(s, i);
    if (n < 0) return false;
    i += n;
  }
  return true;
}

// UTF-8 decoding with errors="replace": each maximal invalid subpart becomes U+FFFD (the policy of
// Python's codecs and Rust's from_utf8_lossy).
std::string ReplaceInvalid(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    int n = SequenceAt(s, i);
    if (n > 0) {
      out.append(s.data() + i, n);
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      i += -n;
    }
  }
  return out;
}

// Start of a trailing incomplete (but so far valid) UTF-8 sequence, or s.size() when there is none.
size_t IncompleteTail(std::string_view s) {
  size_t n = s.size();
  for (size_t k = 1; k <= 3 && k <= n; ++k) {
    size_t i = n - k;
    auto b = static_cast<unsigned char>(s[i]);
    if (b >= 0x80 && b < 0xC0) continue;  // continuation byte: look further back
    int r = SequenceAt(s, i);
    return (r < 0 && static_cast<size_t>(-r) == k) ? i : n;
  }
  return n;
}

std::string Nfc(std::string_view s) {
  bool ascii =
      std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (ascii || s.empty()) return std::string(s);
  utf8proc_uint8_t* dst = nullptr;
  utf8proc_ssize_t n = utf8proc_map(
      reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()),
      &dst, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) throw TokenizerError(std::string("NFC normalisation failed: ") + utf8proc_errmsg(n));
  std::string out(reinterpret_cast<const char*>(dst), static_cast<size_t>(n));
  std::free(dst);
  return out;
}

// GPT-2 bytes_to_unicode: printable bytes keep their code point, the other 68 map to U+0100 + n.
std::array<uint32_t, 256> ByteToCodepoint() {
  std::array<uint32_t, 256> m{};
  uint32_t n = 0;
  for (uint32_t b = 0; b < 256; ++b) {
    bool keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    m[b] = keep ? b : 0x100 + n++;
  }
  return m;
}

// Hashing that lets unordered maps keyed by std::string be searched with a string_view (no copy).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

struct Pcre2Code {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Pcre2Code() {
    if (code) pcre2_code_free(code);
  }
};

}  // namespace

struct Tokenizer::Impl {
  fs::path source;
  StringMap<int32_t> vocab;           // byte-level token string -> id
  std::vector<std::string> id_bytes;  // id -> raw bytes (vocab and added tokens)
  std::vector<std::string> id_token;  // id -> token string (byte-level or added content)
  std::vector<uint8_t> is_special, is_added;
  std::array<int32_t, 256> byte_id{};
  // (left id << 32 | right id) -> (rank, merged id)
  std::unordered_map<uint64_t, std::pair<uint32_t, int32_t>> merges;
  std::vector<AddedToken> added;
  std::array<std::vector<int32_t>, 256> added_by_first;  // indexes into `added`, longest first
  StringMap<int32_t> added_ids;
  size_t vocab_count = 0;
  std::optional<TokenId> eos, pad;
  std::string chat_template;
  fs::path chat_template_file;
  std::string chat_template_from_config, eos_name, pad_name;  // from tokenizer_config.json
  Pcre2Code pattern;

  mutable std::shared_mutex cache_mu;
  mutable StringMap<std::vector<int32_t>> cache;

  // The id -> token table is built in Finish, sized by the number of entries: an id in the file
  // never decides an allocation (one entry claiming id 99,999,999 made a 3 GB table).
  void AddVocab(std::string_view token, int64_t id, const fs::path& file) {
    if (id < 0 || id > std::numeric_limits<int32_t>::max())
      Fail(file, "token id " + std::to_string(id) + " out of range");
    auto [it, fresh] = vocab.emplace(std::string(token), static_cast<int32_t>(id));
    if (!fresh) Fail(file, "token '" + std::string(token) + "' appears twice in the vocabulary");
  }

  // `where` names the merge in errors ("line 12" of merges.txt, or "merge 11" of tokenizer.json).
  void AddMerge(std::string_view a, std::string_view b, size_t rank, const fs::path& file,
                const std::string& where) {
    auto ia = vocab.find(a);
    auto ib = vocab.find(b);
    std::string joined;
    joined.reserve(a.size() + b.size());
    joined.append(a).append(b);
    auto im = vocab.find(joined);
    if (ia == vocab.end() || ib == vocab.end() || im == vocab.end())
      Fail(file, where + ": merge '" + std::string(a) + " " + std::string(b) +
                     "' uses a token that is not in the vocabulary");
    uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(ia->second)) << 32) |
                   static_cast<uint32_t>(ib->second);
    merges.emplace(key, std::make_pair(static_cast<uint32_t>(rank), im->second));
  }

  void AddAdded(int64_t id, std::string content, bool special, const fs::path& file) {
    if (content.empty()) Fail(file, "added token " + std::to_string(id) + " has empty content");
    if (id < 0 || id > std::numeric_limits<int32_t>::max())
      Fail(file, "added token '" + content + "' has id " + std::to_string(id) + ", out of range");
    for (auto& a : added)
      if (a.id == id || a.content == content)
        Fail(file, "added token '" + content + "' (id " + std::to_string(id) + ") is repeated");
    added.push_back({id, std::move(content), special});
  }

  void Finish(const fs::path& file) {
    vocab_count = vocab.size();
    // The vocabulary's ids are 0..n-1, each once: an id at or past n leaves a hole below n.
    id_token.assign(vocab_count, std::string());
    for (const auto& [token, id] : vocab) {
      if (static_cast<size_t>(id) >= vocab_count) continue;
      if (!id_token[id].empty())
        Fail(file, "id " + std::to_string(id) + " is used twice in the vocabulary");
      id_token[id] = token;
    }
    for (size_t i = 0; i < vocab_count; ++i)
      if (id_token[i].empty())
        Fail(file, "the vocabulary has no token with id " + std::to_string(i));
    // Added tokens may sit above the vocabulary with a gap, but not absurdly far: every id needs an
    // embedding row, and the tables below are sized by the largest.
    const size_t added_limit = 4 * (vocab_count + added.size()) + 65536;
    for (const auto& a : added)
      if (static_cast<size_t>(a.id) >= added_limit)
        Fail(file, "added token '" + a.content + "' has id " + std::to_string(a.id) +
                       ", far past the " + std::to_string(vocab_count) +
                       "-token vocabulary (at most " + std::to_string(added_limit - 1) + ")");
    // Inverse byte map for decoding.
    auto b2c = ByteToCodepoint();
    std::array<int16_t, 0x200> c2b;  // every mapped code point is below U+0200
    c2b.fill(-1);
    for (int b = 0; b < 256; ++b) c2b[b2c[b]] = static_cast<int16_t>(b);
    for (int b = 0; b < 256; ++b) {
      std::string ch;
      AppendUtf8(ch, b2c[b]);
      auto it = vocab.find(ch);
      if (it == vocab.end())
        Fail(file, "the vocabulary lacks the byte-level token for byte " + std::to_string(b));
      byte_id[b] = it->second;
    }
    size_t n = id_token.size();
    for (auto& a : added) n = std::max(n, static_cast<size_t>(a.id) + 1);
    id_token.resize(n);
    id_bytes.resize(n);
    is_special.assign(n, 0);
    is_added.assign(n, 0);
    for (size_t i = 0; i < vocab_count; ++i) {
      const std::string& t = id_token[i];
      std::string& out = id_bytes[i];
      for (size_t p = 0; p < t.size();) {
        int len = SequenceAt(t, p);
        if (len < 0) Fail(file, "vocabulary token " + std::to_string(i) + " is not valid UTF-8");
        auto u = std::string_view(t).substr(p, len);
        int32_t cp = 0;
        utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(u.data()), len, &cp);
        if (cp >= 0 && cp < 0x200 && c2b[cp] >= 0)
          out.push_back(static_cast<char>(c2b[cp]));
        else
          out.append(u);  // not a byte-level character: keep it as text
        p += len;
      }
    }
    for (auto& a : added) {
      auto v = vocab.find(a.content);
      if (v != vocab.end() && v->second != a.id)
        Fail(file, "added token '" + a.content + "' has id " + std::to_string(a.id) +
                       " but the vocabulary gives it " + std::to_string(v->second));
      if (static_cast<size_t>(a.id) < vocab_count && id_token[a.id] != a.content)
        Fail(file, "added token '" + a.content + "' reuses vocabulary id " + std::to_string(a.id));
      id_token[a.id] = a.content;
      id_bytes[a.id] = a.content;
      is_special[a.id] = a.special;
      is_added[a.id] = 1;
      added_ids[a.content] = static_cast<int32_t>(a.id);
    }
    for (size_t i = 0; i < added.size(); ++i)
      added_by_first[static_cast<unsigned char>(added[i].content[0])].push_back(
          static_cast<int32_t>(i));
    for (auto& list : added_by_first)
      std::stable_sort(list.begin(), list.end(), [&](int32_t x, int32_t y) {
        return added[x].content.size() > added[y].content.size();
      });
  }

  void CompilePattern(const std::string& pat, const fs::path& file) {
    int err = 0;
    PCRE2_SIZE off = 0;
    pattern.code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pat.data()), pat.size(),
                                 PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &err, &off, nullptr);
    if (!pattern.code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      Fail(file, "cannot compile the pre-tokenizer regex at offset " + std::to_string(off) + ": " +
                     reinterpret_cast<const char*>(msg));
    }
    pattern.jit = pcre2_jit_compile(pattern.code, PCRE2_JIT_COMPLETE) == 0;
  }

  // Splits `text` (valid UTF-8, normalised) into pre-tokenizer pieces (Split, behaviour Isolated).
  template <class F>
  void PreTokenize(std::string_view text, F&& piece) const {
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(pattern.code, nullptr);
    if (!md) throw TokenizerError("out of memory for regex match data");
    size_t pos = 0;
    while (pos < text.size()) {
      int rc = pcre2_match(pattern.code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(),
                           pos, PCRE2_NO_UTF_CHECK, md, nullptr);
      if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        rc = pcre2_match(pattern.code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), pos,
                         PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, nullptr);
      if (rc == PCRE2_ERROR_NOMATCH) {
        piece(text.substr(pos));  // unmatched rest is its own piece
        break;
      }
      if (rc < 0) {
        pcre2_match_data_free(md);
        throw TokenizerError("pre-tokenizer regex failed with PCRE2 error " + std::to_string(rc));
      }
      PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      size_t b = ov[0], e = ov[1];
      if (b > pos) piece(text.substr(pos, b - pos));
      if (e == b) {  // empty match: cannot happen with this pattern; step one character
        size_t step = 1;
        while (b + step < text.size() &&
               (static_cast<unsigned char>(text[b + step]) & 0xC0) == 0x80)
          ++step;
        piece(text.substr(b, step));
        pos = b + step;
        continue;
      }
      piece(text.substr(b, e - b));
      pos = e;
    }
    pcre2_match_data_free(md);
  }

  // BPE over one piece's bytes: lowest rank first, ties to the leftmost pair.
  void Bpe(std::string_view bytes, std::vector<int32_t>& out) const {
    size_t n = bytes.size();
    if (n == 1) {
      out.push_back(byte_id[static_cast<unsigned char>(bytes[0])]);
      return;
    }
    struct Sym {
      int32_t id, prev, next;
    };
    std::vector<Sym> syms(n);
    for (size_t i = 0; i < n; ++i)
      syms[i] = {byte_id[static_cast<unsigned char>(bytes[i])], static_cast<int32_t>(i) - 1,
                 i + 1 < n ? static_cast<int32_t>(i + 1) : -1};
    struct Cand {
      uint32_t rank;
      int32_t pos, left, right, merged;
      bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
    auto consider = [&](int32_t pos) {
      if (pos < 0) return;
      int32_t nx = syms[pos].next;
      if (nx < 0) return;
      uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(syms[pos].id)) << 32) |
                     static_cast<uint32_t>(syms[nx].id);
      auto it = merges.find(key);
      if (it != merges.end())
        heap.push({it->second.first, pos, syms[pos].id, syms[nx].id, it->second.second});
    };
    for (size_t i = 0; i + 1 < n; ++i) consider(static_cast<int32_t>(i));
    while (!heap.empty()) {
      Cand c = heap.top();
      heap.pop();
      Sym& s = syms[c.pos];
      if (s.id != c.left || s.next < 0 || syms[s.next].id != c.right) continue;  // stale
      Sym& r = syms[s.next];
      s.id = c.merged;
      r.id = -1;
      s.next = r.next;
      if (r.next >= 0) syms[r.next].prev = c.pos;
      consider(s.prev);
      consider(c.pos);
    }
    for (int32_t i = 0; i >= 0; i = syms[i].next) out.push_back(syms[i].id);
  }

  void EncodePiece(std::string_view piece, std::vector<TokenId>& out) const {
    bool cacheable = piece.size() <= kMaxCachedPiece;
    if (cacheable) {
      std::shared_lock lock(cache_mu);
      auto it = cache.find(piece);
      if (it != cache.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
        return;
      }
    }
    std::vector<int32_t> ids;
    Bpe(piece, ids);
    out.insert(out.end(), ids.begin(), ids.end());
    if (cacheable) {
      std::unique_lock lock(cache_mu);
      if (cache.size() < kCacheCapacity) cache.emplace(std::string(piece), std::move(ids));
    }
  }

  void EncodeText(std::string_view raw, std::vector<TokenId>& out) const {
    if (raw.empty()) return;
    std::string valid = IsValidUtf8(raw) ? std::string(raw) : ReplaceInvalid(raw);
    std::string norm = Nfc(valid);
    PreTokenize(norm, [&](std::string_view piece) { EncodePiece(piece, out); });
  }
};

std::string ByteLevelSymbol(uint8_t byte) {
  static const std::array<uint32_t, 256> byte_map = ByteToCodepoint();
  std::string s;
  AppendUtf8(s, byte_map[byte]);
  return s;
}

std::vector<std::string> Tokenizer::ByteLevelPieces(std::string_view text) const {
  static const std::array<uint32_t, 256> byte_map = ByteToCodepoint();
  std::vector<std::string> out;
  if (text.empty()) return out;
  const std::string valid = IsValidUtf8(text) ? std::string(text) : ReplaceInvalid(text);
  impl_->PreTokenize(Nfc(valid), [&](std::string_view piece) {
    std::string mapped;
    for (unsigned char b : piece) AppendUtf8(mapped, byte_map[b]);
    out.push_back(std::move(mapped));
  });
  return out;
}

Tokenizer::Tokenizer() : impl_(std::make_unique<Impl>()) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

namespace {

std::string ElementString(simdjson::dom::element e) {
  std::string_view sv;
  if (e.get(sv) != simdjson::SUCCESS) return {};
  return std::string(sv);
}

// The Split pre-tokenizer regex inside tokenizer.json's pre_tokenizer, if any.
std::string FindSplitRegex(simdjson::dom::element e) {
  simdjson::dom::object obj;
  if (e.get(obj) == simdjson::SUCCESS) {
    std::string_view type;
    if (obj["type"].get(type) == simdjson::SUCCESS && type == "Split") {
      std::string_view re;
      if (obj["pattern"]["Regex"].get(re) == simdjson::SUCCESS) return std::string(re);
    }
    for (auto field : obj) {
      std::string r = FindSplitRegex(field.value);
      if (!r.empty()) return r;
    }
    return {};
  }
  simdjson::dom::array arr;
  if (e.get(arr) == simdjson::SUCCESS)
    for (auto item : arr) {
      std::string r = FindSplitRegex(item);
      if (!r.empty()) return r;
    }
  return {};
}

template <class Impl>
void LoadTokenizerJson(Impl& t, const fs::path& file, std::string* pattern) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.load(file.string()).get(doc))
    Fail(file, std::string("invalid JSON: ") + simdjson::error_message(err));
  simdjson::dom::object model;
  if (doc["model"].get(model)) Fail(file, "no 'model' object");
  std::string_view type;
  if (model["type"].get(type) == simdjson::SUCCESS && type != "BPE")
    Fail(file, "model.type is '" + std::string(type) + "', expected BPE");
  simdjson::dom::object vocab;
  if (model["vocab"].get(vocab)) Fail(file, "no model.vocab object");
  t.vocab.reserve(vocab.size() * 2);
  for (auto field : vocab) {
    int64_t id;
    if (field.value.get(id))
      Fail(file, "model.vocab['" + std::string(field.key) + "'] is not an integer");
    t.AddVocab(field.key, id, file);
  }
  simdjson::dom::array merges;
  if (model["merges"].get(merges)) Fail(file, "no model.merges array");
  t.merges.reserve(merges.size() * 2);
  size_t rank = 0;
  for (auto m : merges) {
    std::string_view s;
    simdjson::dom::array pair;
    if (m.get(s) == simdjson::SUCCESS) {  // "a b"
      size_t sp = s.find(' ');
      if (sp == std::string_view::npos || s.find(' ', sp + 1) != std::string_view::npos)
        Fail(file, "merge " + std::to_string(rank) + " '" + std::string(s) + "' is not two tokens");
      t.AddMerge(s.substr(0, sp), s.substr(sp + 1), rank, file, "merge " + std::to_string(rank));
    } else if (m.get(pair) == simdjson::SUCCESS && pair.size() == 2) {  // ["a", "b"]
      simdjson::dom::element ea, eb;
      if (pair.at(0).get(ea) || pair.at(1).get(eb))
        Fail(file, "merge " + std::to_string(rank) + " is malformed");
      std::string a = ElementString(ea), b = ElementString(eb);
      t.AddMerge(a, b, rank, file, "merge " + std::to_string(rank));
    } else {
      Fail(file, "merge " + std::to_string(rank) + " is neither \"a b\" nor [\"a\",\"b\"]");
    }
    ++rank;
  }
  simdjson::dom::array added;
  if (doc["added_tokens"].get(added) == simdjson::SUCCESS) {
    for (auto a : added) {
      int64_t id;
      std::string_view content;
      bool special = false;
      if (a["id"].get(id) || a["content"].get(content))
        Fail(file, "an added_tokens entry lacks id or content");
      if (a["special"].get(special) != simdjson::SUCCESS) special = false;
      t.AddAdded(id, std::string(content), special, file);
    }
  }
  simdjson::dom::element pre;
  if (doc["pre_tokenizer"].get(pre) == simdjson::SUCCESS) *pattern = FindSplitRegex(pre);
  simdjson::dom::element norm;
  if (doc["normalizer"].get(norm) == simdjson::SUCCESS && !norm.is_null()) {
    std::string_view nt;
    if (norm["type"].get(nt) == simdjson::SUCCESS && nt != "NFC")
      Fail(file, "normalizer '" + std::string(nt) + "' is not supported (expected NFC)");
  }
}

template <class Impl>
void LoadVocabMerges(Impl& t, const fs::path& vocab_file, const fs::path& merges_file) {
  simdjson::dom::parser parser;
  simdjson::dom::object vocab;
  if (auto err = parser.load(vocab_file.string()).get(vocab))
    Fail(vocab_file, std::string("not a JSON object: ") + simdjson::error_message(err));
  t.vocab.reserve(vocab.size() * 2);
  for (auto field : vocab) {
    int64_t id;
    if (field.value.get(id))
      Fail(vocab_file, "entry '" + std::string(field.key) + "' is not an integer");
    t.AddVocab(field.key, id, vocab_file);
  }
  std::string text = io::ReadFile(merges_file, "merges");
  std::string_view rest(text);
  size_t line_no = 0, rank = 0;
  t.merges.reserve(200000);
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    // As Qwen2Tokenizer: skip a "#version:" first line and empty lines.
    if (line.empty() || (line_no == 1 && line.rfind("#version:", 0) == 0)) continue;
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos || line.find(' ', sp + 1) != std::string_view::npos)
      Fail(merges_file,
           "line " + std::to_string(line_no) + " is not two tokens separated by a space");
    t.AddMerge(line.substr(0, sp), line.substr(sp + 1), rank++, merges_file,
               "line " + std::to_string(line_no));
  }
}

template <class Impl>
void LoadTokenizerConfig(Impl& t, const fs::path& file, bool take_added) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(io::ReadFile(file, "tokenizer file"));
  } catch (const nlohmann::json::exception& e) {
    Fail(file, std::string("invalid JSON: ") + e.what());
  }
  if (take_added) {
    auto atd = j.find("added_tokens_decoder");
    if (atd != j.end() && atd->is_object()) {
      for (auto& [key, v] : atd->items()) {
        int64_t id = 0;
        try {
          id = std::stoll(key);
        } catch (...) {
          Fail(file, "added_tokens_decoder key '" + key + "' is not an id");
        }
        if (!v.is_object() || !v.contains("content") || !v["content"].is_string())
          Fail(file, "added_tokens_decoder['" + key + "'] lacks content");
        t.AddAdded(id, v["content"].template get<std::string>(), v.value("special", false), file);
      }
    }
  }
  auto token_of = [&](const char* key) -> std::string {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return {};
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object() && it->contains("content")) return (*it)["content"].get<std::string>();
    return {};
  };
  t.chat_template_from_config = j.contains("chat_template") && j["chat_template"].is_string()
                                    ? j["chat_template"].get<std::string>()
                                    : std::string();
  t.eos_name = token_of("eos_token");
  t.pad_name = token_of("pad_token");
}

}  // namespace

Tokenizer Tokenizer::Load(const fs::path& path) {
  Tokenizer tok;
  Impl& t = *tok.impl_;
  std::error_code ec;
  fs::path dir = fs::is_directory(path, ec) ? path : path.parent_path();
  fs::path tj = fs::is_directory(path, ec) ? path / "tokenizer.json" : path;
  std::string pattern;
  bool from_json = fs::exists(tj, ec) && tj.extension() == ".json" && tj.filename() != "vocab.json";
  if (from_json) {
    t.source = tj;
    LoadTokenizerJson(t, tj, &pattern);
  } else {
    fs::path vocab = dir / "vocab.json", merges = dir / "merges.txt";
    if (!fs::exists(vocab, ec) || !fs::exists(merges, ec))
      Fail(path, "no tokenizer.json, and no vocab.json + merges.txt");
    t.source = vocab;
    LoadVocabMerges(t, vocab, merges);
  }
  fs::path cfg = dir / "tokenizer_config.json";
  if (fs::exists(cfg, ec)) LoadTokenizerConfig(t, cfg, /*take_added=*/!from_json);
  t.Finish(t.source);
  t.CompilePattern(pattern.empty() ? kQwen2Pattern : pattern, t.source);

  if (!t.eos_name.empty()) t.eos = tok.TokenToId(t.eos_name);
  if (!t.pad_name.empty()) t.pad = tok.TokenToId(t.pad_name);
  // The processor's template wins over tokenizer_config's, as in transformers' ProcessorMixin.
  if (fs::exists(dir / "chat_template.json", ec)) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(io::ReadFile(dir / "chat_template.json", "chat template"));
    } catch (const nlohmann::json::exception& e) {
      Fail(dir / "chat_template.json", std::string("invalid JSON: ") + e.what());
    }
    if (j.contains("chat_template") && j["chat_template"].is_string())
      t.chat_template = j["chat_template"].get<std::string>();
    t.chat_template_file = dir / "chat_template.json";
  } else if (fs::exists(dir / "chat_template.jinja", ec)) {
    t.chat_template = io::ReadFile(dir / "chat_template.jinja", "chat template");
    t.chat_template_file = dir / "chat_template.jinja";
  } else {
    t.chat_template = t.chat_template_from_config;
    if (!t.chat_template.empty()) t.chat_template_file = cfg;
  }
  return tok;
}

std::vector<TokenId> Tokenizer::Encode(std::string_view text) const {
  const Impl& t = *impl_;
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 4);
  // Added-token split: leftmost match, longest at that position.
  size_t seg = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto& cands = t.added_by_first[static_cast<unsigned char>(text[i])];
    if (cands.empty()) continue;
    for (int32_t c : cands) {
      const AddedToken& a = t.added[c];
      if (text.compare(i, a.content.size(), a.content) == 0) {
        t.EncodeText(text.substr(seg, i - seg), out);
        out.push_back(a.id);
        i += a.content.size() - 1;
        seg = i + 1;
        break;
      }
    }
  }
  t.EncodeText(text.substr(seg), out);
  return out;
}

std::string Tokenizer::TokenBytes(TokenId id) const {
  const Impl& t = *impl_;
  if (id < 0 || static_cast<size_t>(id) >= t.id_bytes.size() ||
      (static_cast<size_t>(id) >= t.vocab_count && !t.is_added[id]))
    throw TokenizerError("token id " + std::to_string(id) + " is not in the tokenizer (size " +
                         std::to_string(size()) + ")");
  return t.id_bytes[id];
}

std::string Tokenizer::Decode(const std::vector<TokenId>& ids, bool skip_special_tokens) const {
  std::string bytes;
  for (TokenId id : ids) {
    if (skip_special_tokens && IsSpecial(id)) continue;
    bytes += TokenBytes(id);
  }
  return ReplaceInvalid(bytes);
}

std::optional<TokenId> Tokenizer::TokenToId(std::string_view token) const {
  auto a = impl_->added_ids.find(token);
  if (a != impl_->added_ids.end()) return a->second;
  auto v = impl_->vocab.find(token);
  if (v != impl_->vocab.end()) return v->second;
  return std::nullopt;
}

std::string Tokenizer::IdToToken(TokenId id) const {
  TokenBytes(id);  // range check
  return impl_->id_token[id];
}

bool Tokenizer::IsSpecial(TokenId id) const {
  return id >= 0 && static_cast<size_t>(id) < impl_->is_special.size() && impl_->is_special[id];
}
bool Tokenizer::IsAdded(TokenId id) const {
  return id >= 0 && static_cast<size_t>(id) < impl_->is_added.size() && impl_->is_added[id];
}
const std::vector<AddedToken>& Tokenizer::added_tokens() const {
  return impl_->added;
}
size_t Tokenizer::size() const {
  size_t n = impl_->vocab_count;
  for (auto& a : impl_->added)
    if (static_cast<size_t>(a.id) >= impl_->vocab_count) ++n;
  return n;
}
size_t Tokenizer::merges_size() const {
  return impl_->merges.size();
}
std::optional<TokenId> Tokenizer::eos_token_id() const {
  return impl_->eos;
}
std::optional<TokenId> Tokenizer::pad_token_id() const {
  return impl_->pad;
}
const std::string& Tokenizer::chat_template() const {
  return impl_->chat_template;
}

const fs::path& Tokenizer::chat_template_file() const {
  return impl_->chat_template_file;
}

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens)
    : tok_(&tokenizer), skip_special_(skip_special_tokens) {}

std::string StreamDecoder::Push(TokenId id) {
  if (skip_special_ && tok_->IsSpecial(id)) return {};
  pending_ += tok_->TokenBytes(id);
  size_t cut = IncompleteTail(pending_);
  std::string out = ReplaceInvalid(std::string_view(pending_).substr(0, cut));
  pending_.erase(0, cut);
  return out;
}

std::string StreamDecoder::Finish() {
  std::string out = ReplaceInvalid(pending_);
  pending_.clear();
  return out;
}

}  // namespace vstar::model
