#include "recog/text.hpp"

#include <utf8proc.h>

namespace vstar::recog {
namespace {

// Decodes one code point at s[i]; invalid bytes come back as themselves with length 1 and cp = -1.
utf8proc_int32_t Next(std::string_view s, size_t i, size_t* len) {
  utf8proc_int32_t cp = -1;
  auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + i),
                            static_cast<utf8proc_ssize_t>(s.size() - i), &cp);
  *len = n > 0 ? static_cast<size_t>(n) : 1;
  return n > 0 ? cp : -1;
}

void Append(std::string& out, utf8proc_int32_t cp) {
  utf8proc_uint8_t buf[4];
  auto n = utf8proc_encode_char(cp, buf);
  out.append(reinterpret_cast<char*>(buf), static_cast<size_t>(n));
}

bool IsSpace(utf8proc_int32_t cp) {
  if (cp < 0) return false;
  if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F) || cp == 0x85) return true;
  auto cat = utf8proc_category(cp);
  return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}

bool IsAlnum(utf8proc_int32_t cp) {
  if (cp < 0) return false;
  if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  auto cat = utf8proc_category(cp);
  return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
         (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
}

}  // namespace

std::string Strip(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e) {
    size_t len;
    auto cp = Next(s, b, &len);
    if (!IsSpace(cp)) break;
    b += len;
  }
  // Walk back: find the last non-space code point.
  size_t last_end = b;
  for (size_t i = b; i < e;) {
    size_t len;
    auto cp = Next(s, i, &len);
    if (!IsSpace(cp)) last_end = i + len;
    i += len;
  }
  return std::string(s.substr(b, last_end - b));
}

std::string Lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t len;
    auto cp = Next(s, i, &len);
    if (cp < 0) {
      out.append(s.substr(i, len));
    } else if (cp < 0x80) {
      out += static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
    } else {
      Append(out, utf8proc_tolower(cp));
    }
    i += len;
  }
  return out;
}

std::string RemoveChars(std::string_view s, std::string_view chars) {
  std::string out;
  out.reserve(s.size());
  for (char c : s)
    if (chars.find(c) == std::string_view::npos) out += c;
  return out;
}

std::string ReplaceAll(std::string_view s, std::string_view from, std::string_view to) {
  if (from.empty()) return std::string(s);
  std::string out;
  size_t pos = 0;
  for (;;) {
    size_t hit = s.find(from, pos);
    if (hit == std::string_view::npos) break;
    out.append(s.substr(pos, hit - pos));
    out.append(to);
    pos = hit + from.size();
  }
  out.append(s.substr(pos));
  return out;
}

std::vector<std::string> SplitLines(std::string_view s) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    size_t nl = s.find('\n', pos);
    if (nl == std::string_view::npos) {
      out.emplace_back(s.substr(pos));
      return out;
    }
    out.emplace_back(s.substr(pos, nl - pos));
    pos = nl + 1;
  }
}

std::string NormalizeTrain(std::string_view s) { return RemoveChars(Lower(s), " _\n"); }
std::string NormalizeScore(std::string_view s) { return RemoveChars(Lower(s), " _\n*"); }

std::string LabelKey(std::string_view s) {
  std::string lower = Lower(s), out;
  for (size_t i = 0; i < lower.size();) {
    size_t len;
    auto cp = Next(lower, i, &len);
    if (IsAlnum(cp)) out.append(lower.substr(i, len));
    i += len;
  }
  return out;
}

std::vector<std::string> Words(std::string_view s) {
  std::string lower = Lower(s);
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 0; i < lower.size();) {
    size_t len;
    auto cp = Next(lower, i, &len);
    if (IsAlnum(cp)) {
      cur.append(lower.substr(i, len));
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
    i += len;
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

}  // namespace vstar::recog
