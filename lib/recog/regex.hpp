#pragma once
// A small PCRE2 wrapper with Python `re` semantics where the authors' code relies on them (lazy
// quantifiers, look-ahead, DOTALL, IGNORECASE). std::regex recurses per character and overflows the
// stack on long completions, so every pattern in recog/reward/eval goes through this class.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vstar::recog {

enum RegexFlags : unsigned {
  kNone = 0,
  kIgnoreCase = 1u << 0,  // re.IGNORECASE
  kDotAll = 1u << 1,      // re.DOTALL
};

struct Match {
  size_t begin = 0, end = 0;          // whole match, byte offsets
  std::vector<std::optional<std::string>> groups;  // groups[0] = whole match
  std::string group(size_t i) const { return i < groups.size() && groups[i] ? *groups[i] : std::string(); }
};

class Regex {
 public:
  // Throws std::invalid_argument with PCRE2's message when the pattern does not compile.
  explicit Regex(std::string_view pattern, unsigned flags = kNone);
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;

  // First match at or after `start` (re.search).
  std::optional<Match> Search(std::string_view subject, size_t start = 0) const;
  // Whole subject must match (re.fullmatch).
  bool FullMatch(std::string_view subject) const;
  // All non-overlapping matches (re.findall / re.finditer).
  std::vector<Match> FindAll(std::string_view subject) const;

  // The compiled pattern from a per-thread cache. Patterns built from data (a decision tag, an
  // answer, a template's section title) recur in every record; compiling them (with the JIT) costs
  // far more than matching them, so each is compiled once per thread. The cache holds at most 256
  // patterns and starts over when full; the pointer keeps its pattern alive regardless.
  static std::shared_ptr<const Regex> Cached(std::string_view pattern, unsigned flags = kNone);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// re.escape for a literal inside a pattern: every ASCII character that is not alphanumeric or '_'
// gets a backslash; UTF-8 sequences are left alone, which PCRE2 reads literally; an invalid UTF-8
// byte (model text nobody checked) becomes "(?!)", as no subject can match it.
std::string RegexEscape(std::string_view literal);

}  // namespace vstar::recog
