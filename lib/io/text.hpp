#pragma once
// Small text helpers every domain shares: whole-file reads with an error that names the file, and
// the Python str.strip() / str.lower() rules (Unicode aware; on ASCII they are the usual trim and
// lower-case), so model text, class lists, HTTP headers and config files are all treated alike.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace vstar::io {

// The whole file, bytes as stored. Throws std::runtime_error "cannot open <what> <path>: <reason>"
// (or "cannot read ..."); `what` says what the file is for ("class list", "prompt template").
std::string ReadFile(const std::filesystem::path& path, std::string_view what = "file");
// ReadFile, except that "-" reads standard input to its end.
std::string ReadFileOrStdin(const std::filesystem::path& path, std::string_view what = "file");

// Python str.strip(): removes leading and trailing whitespace, the ASCII kind and the Unicode
// spaces (NBSP, U+3000, line/paragraph separators).
std::string Trim(std::string_view s);
// Python str.lower() with Unicode simple case mapping (utf8proc); invalid UTF-8 bytes are kept.
std::string Lower(std::string_view s);

// Decodes the UTF-8 code point at s[i] into *cp and returns its length in bytes; an invalid byte
// counts as one byte with *cp = -1.
size_t NextCodePoint(std::string_view s, size_t i, std::int32_t* cp);

}  // namespace vstar::io
