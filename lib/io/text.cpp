#include "io/text.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include <utf8proc.h>

namespace vstar::io {
namespace {

std::string Slurp(std::istream& in, const std::string& name, std::string_view what) {
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad())
    throw std::runtime_error("cannot read " + std::string(what) + " " + name + ": " +
                             std::strerror(errno));
  return ss.str();
}

bool IsSpace(std::int32_t cp) {
  if (cp < 0) return false;
  if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F) || cp == 0x85)
    return true;
  auto cat = utf8proc_category(cp);
  return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}

}  // namespace

std::string ReadFile(const std::filesystem::path& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error("cannot open " + std::string(what) + " " + path.string() + ": " +
                             std::strerror(errno));
  // A directory opens like a file and then reads as empty: say what it is instead.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw std::runtime_error("cannot read " + std::string(what) + " " + path.string() + ": " +
                             std::strerror(EISDIR));
  return Slurp(in, path.string(), what);
}

std::string ReadFileOrStdin(const std::filesystem::path& path, std::string_view what) {
  if (path == "-") return Slurp(std::cin, "<stdin>", what);
  return ReadFile(path, what);
}

size_t NextCodePoint(std::string_view s, size_t i, std::int32_t* cp) {
  utf8proc_int32_t c = -1;
  auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + i),
                            static_cast<utf8proc_ssize_t>(s.size() - i), &c);
  *cp = n > 0 ? c : -1;
  return n > 0 ? static_cast<size_t>(n) : 1;
}

std::string Trim(std::string_view s) {
  size_t b = 0;
  while (b < s.size()) {
    std::int32_t cp;
    size_t len = NextCodePoint(s, b, &cp);
    if (!IsSpace(cp)) break;
    b += len;
  }
  // The end of the last code point that is not a space.
  size_t end = b;
  for (size_t i = b; i < s.size();) {
    std::int32_t cp;
    size_t len = NextCodePoint(s, i, &cp);
    if (!IsSpace(cp)) end = i + len;
    i += len;
  }
  return std::string(s.substr(b, end - b));
}

std::string Lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    std::int32_t cp;
    size_t len = NextCodePoint(s, i, &cp);
    if (cp < 0) {
      out.append(s.substr(i, len));
    } else if (cp < 0x80) {
      out += static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
    } else {
      utf8proc_uint8_t buf[4];
      auto n = utf8proc_encode_char(utf8proc_tolower(cp), buf);
      out.append(reinterpret_cast<char*>(buf), static_cast<size_t>(n));
    }
    i += len;
  }
  return out;
}

}  // namespace vstar::io
