#pragma once
// Prompt templates for the policy: a text file whose {{placeholders}} are filled from a record's
// fields, turned into chat messages with the video placed where {{video}} stands.
//
// File format (UTF-8):
//   optional sections introduced by a line "=== system ===" or "=== user ==="; text before any
//   section marker belongs to the user message. Inside the text:
//   {{video}}            the video (the record's frames); if absent the video precedes the user text
//   {{a.b.c}}            the record field a.b.c (dots descend into objects, digits index arrays):
//                        strings verbatim, arrays of scalars joined with ", ", other values as JSON
//   {{a.b|default text}} the field, or "default text" when it is absent or null
// A field that is absent (and has no default) is an error for that record.
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/record.hpp"
#include "model/chat_template.hpp"

namespace vstar::policy {

struct TemplateError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class PromptTemplate {
 public:
  static PromptTemplate Load(const std::filesystem::path& file);
  static PromptTemplate Parse(const std::string& text, const std::string& origin = "<template>");

  // Messages for one record: an optional system message and one user message with the video.
  // Throws TemplateError naming the missing field.
  std::vector<model::ChatMessage> Render(const io::Json& record) const;

  const std::string& origin() const { return origin_; }

 private:
  std::string origin_;
  std::string system_;  // empty = none (the chat template adds its default)
  std::string user_;
  bool has_system_ = false;
};

// The text value of record field `path` ("a.b.0.c"), formatted as described above; nullopt-like
// behaviour through `found`.
std::string FieldText(const io::Json& record, const std::string& path, bool* found);

}  // namespace vstar::policy
