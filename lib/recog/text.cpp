#include "recog/text.hpp"

#include <utf8proc.h>

namespace vstar::recog {
namespace {

bool IsAlnum(utf8proc_int32_t cp) {
  if (cp < 0) return false;
  if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  auto cat = utf8proc_category(cp);
  return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
         (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO);
}

}  // namespace

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
    std::int32_t cp;
    size_t len = io::NextCodePoint(lower, i, &cp);
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
    std::int32_t cp;
    size_t len = io::NextCodePoint(lower, i, &cp);
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
