#define PCRE2_CODE_UNIT_WIDTH 8
#include "recog/regex.hpp"

#include <pcre2.h>

#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "io/text.hpp"

namespace vstar::recog {

struct Regex::Impl {
  std::string pattern;
  unsigned flags = kNone;
  pcre2_code* code = nullptr;
  // The same pattern anchored at both ends, for FullMatch: compiled on first use, as most patterns
  // are only ever searched.
  std::once_flag full_once;
  pcre2_code* full = nullptr;
  ~Impl() {
    if (code) pcre2_code_free(code);
    if (full) pcre2_code_free(full);
  }
};

namespace {

pcre2_code* Compile(std::string_view pattern, unsigned flags) {
  uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
  if (flags & kIgnoreCase) options |= PCRE2_CASELESS;
  if (flags & kDotAll) options |= PCRE2_DOTALL;
  int err = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options,
                                   &err, &offset, nullptr);
  if (!code) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(err, buf, sizeof buf);
    throw std::invalid_argument("bad regular expression '" + std::string(pattern) + "' at offset " +
                                std::to_string(offset) + ": " + reinterpret_cast<char*>(buf));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // best effort; the interpreter is used if JIT fails
  return code;
}

std::optional<Match> Run(const pcre2_code* code, std::string_view subject, size_t start) {
  if (start > subject.size()) return std::nullopt;
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), start, 0, md,
                       nullptr);
  if (rc < 0) {
    pcre2_match_data_free(md);
    if (rc == PCRE2_ERROR_NOMATCH) return std::nullopt;
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(rc, buf, sizeof buf);
    throw std::runtime_error(std::string("regular expression match failed: ") + reinterpret_cast<char*>(buf));
  }
  uint32_t count = pcre2_get_ovector_count(md);
  PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
  Match m;
  m.begin = ov[0];
  m.end = ov[1];
  m.groups.resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    if (ov[2 * i] == PCRE2_UNSET) continue;
    m.groups[i] = std::string(subject.substr(ov[2 * i], ov[2 * i + 1] - ov[2 * i]));
  }
  pcre2_match_data_free(md);
  return m;
}

}  // namespace

Regex::Regex(std::string_view pattern, unsigned flags) : impl_(std::make_unique<Impl>()) {
  impl_->pattern = std::string(pattern);
  impl_->flags = flags;
  impl_->code = Compile(pattern, flags);
}
Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

std::optional<Match> Regex::Search(std::string_view subject, size_t start) const {
  return Run(impl_->code, subject, start);
}

std::shared_ptr<const Regex> Regex::Cached(std::string_view pattern, unsigned flags) {
  constexpr size_t kMaxPatterns = 256;
  thread_local std::unordered_map<std::string, std::shared_ptr<const Regex>> cache;
  std::string key = std::to_string(flags) + '\x1f' + std::string(pattern);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  if (cache.size() >= kMaxPatterns) cache.clear();
  auto re = std::make_shared<const Regex>(pattern, flags);
  cache.emplace(std::move(key), re);
  return re;
}

bool Regex::FullMatch(std::string_view subject) const {
  std::call_once(impl_->full_once,
                 [&] { impl_->full = Compile("(?:" + impl_->pattern + ")\\z", impl_->flags); });
  // Anchor at offset 0 by requiring the match to start there.
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(impl_->full, nullptr);
  int rc = pcre2_match(impl_->full, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0,
                       PCRE2_ANCHORED, md, nullptr);
  pcre2_match_data_free(md);
  return rc >= 0;
}

std::vector<Match> Regex::FindAll(std::string_view subject) const {
  std::vector<Match> out;
  size_t pos = 0;
  while (pos <= subject.size()) {
    auto m = Search(subject, pos);
    if (!m) break;
    size_t next = m->end;
    if (m->end == m->begin) {  // empty match: step one UTF-8 character on
      next = m->end + 1;
      while (next < subject.size() && (static_cast<unsigned char>(subject[next]) & 0xC0) == 0x80) ++next;
    }
    out.push_back(std::move(*m));
    pos = next;
  }
  return out;
}

std::string RegexEscape(std::string_view literal) {
  std::string out;
  for (size_t i = 0; i < literal.size();) {
    char c = literal[i];
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      std::int32_t cp = 0;
      size_t n = io::NextCodePoint(literal, i, &cp);
      // An invalid UTF-8 byte would make the pattern fail to compile; and in a subject, where
      // PCRE2_MATCH_INVALID_UTF makes such bytes barriers, nothing can match it: so it is a
      // literal that never matches.
      out += cp < 0 ? std::string("(?!)") : std::string(literal.substr(i, n));
      i += n;
      continue;
    }
    bool plain = (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || c == '_';
    if (!plain) {
      if (c == '\n') { out += "\\n"; ++i; continue; }
      if (c == '\0') { out += "\\x00"; ++i; continue; }
      out += '\\';
    }
    out += c;
    ++i;
  }
  return out;
}

}  // namespace vstar::recog
