#pragma once
// One record = one JSON object on one line. A record keeps the exact bytes it was read with; a stage
// adds or replaces only its own top-level key by splicing new bytes in, so every field it did not
// touch passes through byte for byte: downstream tools (and diffs) see the input's own bytes.
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace vstar::io {

using Json = nlohmann::ordered_json;

// Raised for input that is not a JSON object; the message names source and line.
struct ParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Byte range of one top-level member inside an object text.
struct Member {
  std::string_view key;  // unescaped only if the key had no escapes; compared raw otherwise
  size_t key_begin = 0;  // offset of the opening quote of the key
  size_t value_begin = 0;
  size_t value_end = 0;  // one past the last byte of the value
};

// Lists the top-level members of a JSON object text. The text must already be valid JSON (the reader
// validates every line with simdjson first); this scanner only tracks strings and nesting.
std::vector<Member> ScanMembers(std::string_view object);

// Serialises a value compactly. Strings are escaped as JSON requires (quotes, backslash, control
// characters as \u00XX); invalid UTF-8 is replaced by U+FFFD rather than rejected, so a stray byte in
// a file name never loses a record.
std::string Dump(const Json& value);

class Record {
 public:
  Record() = default;
  Record(std::string text, std::string source, size_t line);

  const std::string& text() const { return text_; }
  const std::string& source() const { return source_; }
  size_t line() const { return line_; }
  std::string where() const;  // "file:line" for messages

  // Raw JSON text of a top-level value, or nullopt when the key is absent.
  std::optional<std::string_view> raw(std::string_view key) const;
  bool has(std::string_view key) const { return raw(key).has_value(); }
  // Parsed top-level value (null Json when absent).
  Json get(std::string_view key) const;
  // String value of a top-level key; nullopt if absent or not a string.
  std::optional<std::string> string(std::string_view key) const;
  std::string id() const;  // "" when absent or not a string/number

  // Adds or replaces a top-level key; other bytes are untouched.
  void set(std::string_view key, const Json& value);
  void set_raw(std::string_view key, std::string_view value_json);
  void erase(std::string_view key);

  // The stage failure protocol: {"error": {"stage": ..., "message": ...}}.
  bool has_error() const { return has("error"); }
  void set_error(std::string_view stage, std::string_view message);

 private:
  std::string text_;
  std::string source_;
  size_t line_ = 0;
};

}  // namespace vstar::io
