// Tokenizer against the REAL Qwen2.5-VL tokenizer files (../shared/assets/qwen2.5-vl) with ids from
// transformers/tokenizers (tests/fixtures/model/tokenizer, tools/golden/tokenizer_goldens.py), plus
// small hand-checked cases on a synthetic tokenizer.json that need no shared assets.
#include <sys/resource.h>

#include <chrono>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "model/tokenizer.hpp"
#include "support.hpp"

using namespace vstar::model;
using Json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

fs::path Assets() {
  return vstar::test::SharedDir() / "assets/qwen2.5-vl";
}
Json Cases() {
  return Json::parse(
      vstar::test::ReadFile(vstar::test::FixtureDir() / "model/tokenizer/cases.json"));
}

const Tokenizer& Real() {
  static Tokenizer tok = Tokenizer::Load(Assets());
  return tok;
}

std::string Show(const std::vector<TokenId>& ids) {
  std::string s;
  for (auto i : ids) s += std::to_string(i) + " ";
  return s;
}

void CheckEncodeCases(const Tokenizer& tok, const Json& cases) {
  for (const auto& c : cases["encode"]) {
    std::string text = c["text"].get<std::string>();
    auto want = c["ids"].get<std::vector<TokenId>>();
    auto got = tok.Encode(text);
    INFO("text: " << Json(text).dump());
    INFO("want: " << Show(want));
    INFO("got:  " << Show(got));
    CHECK(got == want);
  }
}

// GPT-2 byte map, written out here independently of the library.
std::string ByteChar(int b) {
  int n = 0;
  for (int x = 0; x < 256; ++x) {
    bool keep = (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255);
    int cp = keep ? x : 256 + n;
    if (!keep) ++n;
    if (x == b) {
      std::string s;
      if (cp < 0x80) {
        s.push_back(static_cast<char>(cp));
      } else {
        s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      }
      return s;
    }
  }
  return {};
}

}  // namespace

TEST_CASE("tokenizer: encode equals transformers on the tricky corpus (vocab.json + merges.txt)",
          "[tokenizer]") {
  VSTAR_REQUIRE_SHARED("assets/qwen2.5-vl/vocab.json");
  Json cases = Cases();
  REQUIRE(cases["encode"].size() >= 60);
  CheckEncodeCases(Real(), cases);
}

TEST_CASE("tokenizer: decode equals transformers, incl. skip_special_tokens and invalid UTF-8",
          "[tokenizer]") {
  VSTAR_REQUIRE_SHARED("assets/qwen2.5-vl/vocab.json");
  for (const auto& c : Cases()["decode"]) {
    auto ids = c["ids"].get<std::vector<TokenId>>();
    bool skip = c["skip_special_tokens"].get<bool>();
    INFO("ids: " << Show(ids) << " skip=" << skip);
    CHECK(Real().Decode(ids, skip) == c["text"].get<std::string>());
  }
}

TEST_CASE("tokenizer: added tokens, size and special flags", "[tokenizer]") {
  VSTAR_REQUIRE_SHARED("assets/qwen2.5-vl/vocab.json");
  Json cases = Cases();
  const Tokenizer& tok = Real();
  CHECK(tok.size() == cases["len"].get<size_t>());
  CHECK(tok.size() == 151665);
  CHECK(tok.merges_size() == 151387);
  REQUIRE(tok.added_tokens().size() == cases["added"].size());
  for (const auto& a : cases["added"]) {
    TokenId id = a["id"].get<TokenId>();
    INFO(a.dump());
    CHECK(tok.TokenToId(a["content"].get<std::string>()) == id);
    CHECK(tok.IdToToken(id) == a["content"].get<std::string>());
    CHECK(tok.IsSpecial(id) == a["special"].get<bool>());
    CHECK(tok.IsAdded(id));
  }
  CHECK(tok.eos_token_id() == 151645);
  CHECK(tok.pad_token_id() == 151643);
  CHECK(tok.chat_template().find("<|vision_start|><|image_pad|><|vision_end|>") !=
        std::string::npos);
  CHECK(tok.TokenToId("Ġworld") == 1879);
  CHECK_THROWS_AS(tok.Decode({151665}), TokenizerError);
  CHECK_THROWS_AS(tok.Decode({-1}), TokenizerError);
}

TEST_CASE("tokenizer: merges.txt with a #version header gives the same merges", "[tokenizer]") {
  VSTAR_REQUIRE_SHARED("assets/qwen2.5-vl/variants/merges.with_version_header.txt");
  fs::path dir = vstar::test::TempDir("tok-header");
  fs::create_symlink(Assets() / "vocab.json", dir / "vocab.json");
  fs::create_symlink(Assets() / "variants/merges.with_version_header.txt", dir / "merges.txt");
  fs::create_symlink(Assets() / "tokenizer_config.json", dir / "tokenizer_config.json");
  Tokenizer tok = Tokenizer::Load(dir);
  CHECK(tok.merges_size() == 151387);
  CheckEncodeCases(tok, Cases());
}

TEST_CASE("tokenizer: tokenizer.json with [a,b] merges and \"a b\" merges", "[tokenizer]") {
  VSTAR_REQUIRE_SHARED("assets/qwen2.5-vl/vocab.json");
  // Assemble a tokenizer.json in the layout HF tokenizers writes, from the real vocab and merges.
  Json vocab = Json::parse(vstar::test::ReadFile(Assets() / "vocab.json"));
  Json config = Json::parse(vstar::test::ReadFile(Assets() / "tokenizer_config.json"));
  std::string merges_txt = vstar::test::ReadFile(Assets() / "merges.txt");
  Json pairs = Json::array(), strings = Json::array();
  for (const auto& line : vstar::test::Lines(merges_txt)) {
    if (line.empty()) continue;
    auto sp = line.find(' ');
    pairs.push_back({line.substr(0, sp), line.substr(sp + 1)});
    strings.push_back(line);
  }
  Json added = Json::array();
  for (auto& [id, a] : config["added_tokens_decoder"].items())
    added.push_back({{"id", std::stoll(id)},
                     {"content", a["content"]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", a["special"]}});
  Json tj = {{"version", "1.0"},
             {"added_tokens", added},
             {"normalizer", {{"type", "NFC"}}},
             {"pre_tokenizer",
              {{"type", "Sequence"},
               {"pretokenizers",
                {{{"type", "Split"},
                  {"pattern",
                   {{"Regex",
                     "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
                     "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}}},
                  {"behavior", "Isolated"},
                  {"invert", false}},
                 {{"type", "ByteLevel"},
                  {"add_prefix_space", false},
                  {"trim_offsets", false},
                  {"use_regex", false}}}}}},
             {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", pairs}}}};
  Json cases = Cases();
  for (int form = 0; form < 2; ++form) {
    INFO((form == 0 ? "[a,b] merges" : "\"a b\" merges"));
    fs::path dir = vstar::test::TempDir(form == 0 ? "tok-json-pairs" : "tok-json-strings");
    tj["model"]["merges"] = form == 0 ? pairs : strings;
    vstar::test::WriteFile(dir / "tokenizer.json", tj.dump());
    Tokenizer tok = Tokenizer::Load(dir / "tokenizer.json");
    CHECK(tok.size() == 151665);
    CHECK(tok.merges_size() == 151387);
    CheckEncodeCases(tok, cases);
  }
}

TEST_CASE("tokenizer: streaming decode holds back incomplete UTF-8", "[tokenizer]") {
  VSTAR_REQUIRE_SHARED("assets/qwen2.5-vl/vocab.json");
  const Tokenizer& tok = Real();
  for (const auto& c : Cases()["encode"]) {
    auto ids = c["ids"].get<std::vector<TokenId>>();
    for (bool skip : {false, true}) {
      StreamDecoder dec(tok, skip);
      std::string all;
      for (auto id : ids) {
        std::string part = dec.Push(id);
        all += part;
      }
      all += dec.Finish();
      INFO(c["text"].dump());
      CHECK(all == tok.Decode(ids, skip));
    }
  }
  // A 4-byte emoji split over byte tokens: nothing is emitted until the last byte arrives.
  auto b0 = tok.TokenToId(ByteChar(0xF0)), b1 = tok.TokenToId(ByteChar(0x9F)),
       b2 = tok.TokenToId(ByteChar(0x98)), b3 = tok.TokenToId(ByteChar(0x80));
  REQUIRE((b0 && b1 && b2 && b3));
  StreamDecoder dec(tok);
  CHECK(dec.Push(*b0).empty());
  CHECK(dec.Push(*b1).empty());
  CHECK(dec.Push(*b2).empty());
  CHECK(dec.Push(*b3) == "\xF0\x9F\x98\x80");
  // An incomplete tail at the end is replaced on Finish, as errors="replace" does.
  CHECK(dec.Push(*b0).empty());
  CHECK(dec.Finish() == "\xEF\xBF\xBD");
  // A byte that cannot continue the pending sequence flushes it as U+FFFD at once.
  CHECK(dec.Push(*b0).empty());
  CHECK(dec.Push(*tok.TokenToId("a")) ==
        "\xEF\xBF\xBD"
        "a");
}

TEST_CASE("tokenizer: byte-level round trip on random UTF-8, thread-safe cache", "[tokenizer]") {
  VSTAR_REQUIRE_SHARED("assets/qwen2.5-vl/vocab.json");
  const Tokenizer& tok = Real();
  std::mt19937 rng(7);
  // Code points that are stable under NFC (no combining marks, no Hangul jamo, no compatibility
  // forms).
  std::vector<std::pair<uint32_t, uint32_t>> ranges = {
      {0x20, 0x7E},     {0xA1, 0xFF},     {0x3B1, 0x3C9},    {0x410, 0x44F},
      {0x4E00, 0x9FFF}, {0xAC00, 0xD7A3}, {0x1F600, 0x1F64F}};
  std::vector<std::string> texts;
  for (int k = 0; k < 200; ++k) {
    std::string s;
    int n = 1 + rng() % 60;
    for (int i = 0; i < n; ++i) {
      auto [lo, hi] = ranges[rng() % ranges.size()];
      uint32_t cp = lo + rng() % (hi - lo + 1);
      if (rng() % 5 == 0) cp = " \n\t\r"[rng() % 4];
      if (cp < 0x80)
        s.push_back(static_cast<char>(cp));
      else if (cp < 0x800) {
        s.push_back(0xC0 | (cp >> 6));
        s.push_back(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        s.push_back(0xE0 | (cp >> 12));
        s.push_back(0x80 | ((cp >> 6) & 0x3F));
        s.push_back(0x80 | (cp & 0x3F));
      } else {
        s.push_back(0xF0 | (cp >> 18));
        s.push_back(0x80 | ((cp >> 12) & 0x3F));
        s.push_back(0x80 | ((cp >> 6) & 0x3F));
        s.push_back(0x80 | (cp & 0x3F));
      }
    }
    texts.push_back(s);
  }
  std::vector<std::vector<TokenId>> first(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    first[i] = tok.Encode(texts[i]);
    CHECK(tok.Decode(first[i]) == texts[i]);
  }
  // Invalid UTF-8 input is read as with errors="replace" and never throws.
  CHECK(tok.Decode(tok.Encode("a\xff"
                              "b\xe4\xbd")) ==
        "a\xEF\xBF\xBD"
        "b\xEF\xBF\xBD");
  std::vector<int> bad(2, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 3; ++rep)
        for (size_t i = t; i < texts.size(); i += 1)
          if (tok.Encode(texts[i]) != first[i]) ++bad[t];
    });
  for (auto& th : threads) th.join();
  CHECK(bad[0] == 0);
  CHECK(bad[1] == 0);
}

TEST_CASE("tokenizer: errors name the file", "[tokenizer]") {
  fs::path dir = vstar::test::TempDir("tok-errors");
  try {
    Tokenizer::Load(dir);
    FAIL("no error");
  } catch (const TokenizerError& e) {
    CHECK(std::string(e.what()).find(dir.string()) != std::string::npos);
  }
  Json vocab;
  for (int b = 0; b < 256; ++b) vocab[ByteChar(b)] = b;
  vocab["ab"] = 256;
  vstar::test::WriteFile(dir / "vocab.json", vocab.dump());
  vstar::test::WriteFile(dir / "merges.txt", "#version: 0.2\na b\nq zz\n");
  try {
    Tokenizer::Load(dir);
    FAIL("no error");
  } catch (const TokenizerError& e) {
    std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("merges.txt") != std::string::npos);
    CHECK(msg.find("line 3: merge 'q zz'") != std::string::npos);
  }
  vstar::test::WriteFile(dir / "merges.txt", "a b c\n");
  CHECK_THROWS_WITH(Tokenizer::Load(dir), Catch::Contains("line 1"));
}

TEST_CASE("tokenizer: ids far past the vocabulary are refused without sizing a table by them",
          "[tokenizer]") {
  // Found by make fuzz (tokenizer_json): one vocabulary entry claiming id 41,666,666 made the
  // loader build a table of that many strings (a timeout; a larger id, gigabytes).
  Json vocab;
  for (int b = 0; b < 256; ++b) vocab[ByteChar(b)] = b;
  auto load = [&](const Json& v, const Json& added) {
    Json tj = {{"added_tokens", added},
               {"model", {{"type", "BPE"}, {"vocab", v}, {"merges", Json::array()}}}};
    fs::path dir = vstar::test::TempDir("tok-far-ids");
    vstar::test::WriteFile(dir / "tokenizer.json", tj.dump());
    return Tokenizer::Load(dir);
  };
  Json far = vocab;
  far["ab"] = 41666666;
  rusage before{}, after{};
  getrusage(RUSAGE_SELF, &before);
  CHECK_THROWS_WITH(load(far, Json::array()),
                    Catch::Contains("the vocabulary has no token with id 256"));
  getrusage(RUSAGE_SELF, &after);
  CHECK(after.ru_maxrss - before.ru_maxrss < 200 * 1024);  // KiB: no 1.3 GB table
  Json twice = vocab;
  twice["ab"] = 7;
  CHECK_THROWS_WITH(load(twice, Json::array()), Catch::Contains("id 7 is used twice"));
  CHECK_THROWS_WITH(load(vocab, Json::array({{{"id", 4000000000LL}, {"content", "<x>"}}})),
                    Catch::Contains("out of range"));
  CHECK_THROWS_WITH(load(vocab, Json::array({{{"id", 900000000}, {"content", "<x>"}}})),
                    Catch::Contains("far past the 256-token vocabulary"));
  // A gap above the vocabulary, as in the tiny fixture (443 tokens, specials at 1000-1007), is
  // fine.
  CHECK(load(vocab, Json::array({{{"id", 1000}, {"content", "<x>"}}})).TokenToId("<x>") ==
        TokenId{1000});
}

TEST_CASE("tokenizer: hand-checked BPE, regex pieces and added-token split (synthetic vocab)",
          "[tokenizer]") {
  // Vocabulary: the 256 byte characters, then merged tokens. Ranks decide the order of merges.
  Json vocab;
  for (int b = 0; b < 256; ++b) vocab[ByteChar(b)] = b;
  std::vector<std::string> merges = {"Ġ Ġ", "a a", "aa a", "b c", "a b", "Ġ b", "ĠĠ Ġ"};
  int next = 256;
  for (auto& m : merges) {
    auto sp = m.find(' ');
    vocab[m.substr(0, sp) + m.substr(sp + 1)] = next++;
  }
  Json tj = {{"added_tokens",
              {{{"id", 300}, {"content", "<x>"}, {"special", true}},
               {{"id", 301}, {"content", "<x>y"}, {"special", false}},
               {{"id", 302}, {"content", "x>"}, {"special", false}}}},
             {"normalizer", {{"type", "NFC"}}},
             {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
  fs::path dir = vstar::test::TempDir("tok-synthetic");
  vstar::test::WriteFile(dir / "tokenizer.json", tj.dump());
  Tokenizer tok = Tokenizer::Load(dir);
  auto id = [&](const std::string& t) { return *tok.TokenToId(t); };
  // "aaa": "a a" (rank 1) merges leftmost first, then "aa a" (rank 2).
  CHECK(tok.Encode("aaa") == std::vector<TokenId>{id("aaa")});
  // "aaaa": every rank-1 "a a" merge happens before any rank-2 "aa a": aa aa.
  CHECK(tok.Encode("aaaa") == std::vector<TokenId>{id("aa"), id("aa")});
  // "aaaaa": aa aa a, then "aa a" on the rightmost pair: aa aaa.
  CHECK(tok.Encode("aaaaa") == std::vector<TokenId>{id("aa"), id("aaa")});
  // "abc": "b c" (rank 3) beats "a b" (rank 4).
  CHECK(tok.Encode("abc") == std::vector<TokenId>{'a', id("bc")});
  // "a   b": pieces "a", "  " and " b" (the \s+(?!\S) alternative), not "a", "   ", "b".
  CHECK(tok.Encode("a   b") == std::vector<TokenId>{'a', id("ĠĠ"), id("Ġb")});
  // "2024": one digit per piece.
  CHECK(tok.Encode("2024") == std::vector<TokenId>{'2', '0', '2', '4'});
  // Added tokens: leftmost-longest; "<x>y" wins over "<x>", and "x>" after it is not reached.
  CHECK(tok.Encode("a<x>yb") == std::vector<TokenId>{'a', 301, 'b'});
  CHECK(tok.Encode("<x>z") == std::vector<TokenId>{300, 'z'});
  CHECK(tok.Encode("ax>") == std::vector<TokenId>{'a', 302});
  // NFC: e + U+0301 becomes U+00E9 (bytes C3 A9).
  CHECK(tok.Encode("e\xCC\x81") == std::vector<TokenId>{id(ByteChar(0xC3)), id(ByteChar(0xA9))});
  CHECK(tok.Decode({'a', 300, 301}, false) == "a<x><x>y");
  CHECK(tok.Decode({'a', 300, 301}, true) == "a<x>y");
}

// Hidden benchmark (run with: test-model "[.bench]"): load time and encode throughput.
TEST_CASE("tokenizer: load time and encode throughput", "[.bench]") {
  VSTAR_REQUIRE_SHARED("assets/qwen2.5-vl/vocab.json");
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  Tokenizer tok = Tokenizer::Load(Assets());
  double load_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::string text;
  const char* path = std::getenv("VSTAR_BENCH_TEXT");
  if (path && *path) {
    text = vstar::test::ReadFile(path);
  } else {
    for (const auto& c : Cases()["encode"]) text += c["text"].get<std::string>() + "\n";
    while (text.size() < (4u << 20)) text += text;
  }
  auto t1 = Clock::now();
  size_t n = tok.Encode(text).size();
  double cold = std::chrono::duration<double>(Clock::now() - t1).count();
  auto t2 = Clock::now();
  tok.Encode(text);
  double warm = std::chrono::duration<double>(Clock::now() - t2).count();
  // Line by line (prompt-sized strings), as in generation.
  std::vector<std::string> lines;
  for (size_t b = 0, e; b < text.size(); b = e + 1) {
    e = text.find('\n', b);
    if (e == std::string::npos) e = text.size();
    lines.push_back(text.substr(b, e - b));
  }
  auto t3 = Clock::now();
  size_t nl = 0;
  for (const auto& l : lines) nl += tok.Encode(l).size();
  double per_line = std::chrono::duration<double>(Clock::now() - t3).count();
  std::printf(
      "{\"load_s\": %.4f, \"bytes\": %zu, \"tokens\": %zu, \"encode_cold_MBps\": %.2f, "
      "\"encode_warm_MBps\": %.2f, \"lines\": %zu, \"line_tokens\": %zu, \"encode_lines_MBps\": "
      "%.2f}\n",
      load_s, text.size(), n, text.size() / cold / 1e6, text.size() / warm / 1e6, lines.size(), nl,
      text.size() / per_line / 1e6);
}
