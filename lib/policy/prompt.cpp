#include "policy/prompt.hpp"

#include <sstream>

#include "io/text.hpp"

namespace vstar::policy {
namespace {

std::string Scalar(const io::Json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

// Replaces {{...}} in `text`; {{video}} is left as a split marker (returned pieces alternate
// text / video).
std::vector<std::string> Substitute(const std::string& text, const io::Json& record, const std::string& origin,
                                    bool* has_video) {
  std::vector<std::string> pieces(1);
  size_t pos = 0;
  while (true) {
    const size_t open = text.find("{{", pos);
    if (open == std::string::npos) {
      pieces.back() += text.substr(pos);
      break;
    }
    const size_t close = text.find("}}", open + 2);
    if (close == std::string::npos) throw TemplateError(origin + ": unterminated '{{'");
    pieces.back() += text.substr(pos, open - pos);
    const std::string inner = io::Trim(text.substr(open + 2, close - open - 2));
    pos = close + 2;
    if (inner == "video") {
      if (*has_video) throw TemplateError(origin + ": {{video}} may appear only once");
      *has_video = true;
      pieces.emplace_back();
      continue;
    }
    const auto bar = inner.find('|');
    const std::string path = io::Trim(inner.substr(0, bar));
    bool found = false;
    std::string value = FieldText(record, path, &found);
    if (!found) {
      if (bar == std::string::npos) throw TemplateError("prompt template " + origin + " needs field '" + path + "'");
      value = inner.substr(bar + 1);
    }
    pieces.back() += value;
  }
  return pieces;
}

}  // namespace

std::string FieldText(const io::Json& record, const std::string& path, bool* found) {
  const io::Json* cur = &record;
  std::stringstream ss(path);
  std::string part;
  while (std::getline(ss, part, '.')) {
    if (cur->is_object()) {
      auto it = cur->find(part);
      if (it == cur->end()) {
        *found = false;
        return "";
      }
      cur = &*it;
    } else if (cur->is_array() && !part.empty() && part.find_first_not_of("0123456789") == std::string::npos) {
      const size_t i = std::stoul(part);
      if (i >= cur->size()) {
        *found = false;
        return "";
      }
      cur = &(*cur)[i];
    } else {
      *found = false;
      return "";
    }
  }
  if (cur->is_null()) {
    *found = false;
    return "";
  }
  *found = true;
  if (cur->is_array()) {
    bool scalars = true;
    for (const auto& v : *cur) scalars = scalars && !v.is_structured();
    if (scalars) {
      std::string out;
      for (size_t i = 0; i < cur->size(); ++i) out += (i ? ", " : "") + Scalar((*cur)[i]);
      return out;
    }
  }
  return Scalar(*cur);
}

PromptTemplate PromptTemplate::Load(const std::filesystem::path& file) {
  std::string text;
  try {
    text = io::ReadFile(file, "prompt template");
  } catch (const std::runtime_error& e) {
    throw TemplateError(e.what());
  }
  return Parse(text, file.string());
}

PromptTemplate PromptTemplate::Parse(const std::string& text, const std::string& origin) {
  PromptTemplate t;
  t.origin_ = origin;
  std::string* target = &t.user_;
  std::stringstream ss(text);
  std::string line;
  bool first_in_section = true;
  while (std::getline(ss, line)) {
    const std::string tl = io::Trim(line);
    if (tl == "=== system ===" || tl == "=== user ===") {
      target = tl == "=== system ===" ? &t.system_ : &t.user_;
      if (tl == "=== system ===") t.has_system_ = true;
      first_in_section = true;
      continue;
    }
    if (!first_in_section) *target += "\n";
    *target += line;
    first_in_section = false;
  }
  // A trailing newline of the file is not part of the prompt.
  while (!t.user_.empty() && t.user_.back() == '\n') t.user_.pop_back();
  while (!t.system_.empty() && t.system_.back() == '\n') t.system_.pop_back();
  if (io::Trim(t.user_).empty() && t.user_.find("{{") == std::string::npos)
    throw TemplateError("prompt template " + origin + " has an empty user message");
  return t;
}

std::vector<model::ChatMessage> PromptTemplate::Render(const io::Json& record) const {
  std::vector<model::ChatMessage> msgs;
  if (has_system_) {
    bool sys_video = false;
    auto sys = Substitute(system_, record, origin_, &sys_video);
    if (sys_video) throw TemplateError(origin_ + ": {{video}} belongs in the user message");
    msgs.push_back(model::ChatMessage::Plain("system", sys[0]));
  }
  bool has_video = false;
  auto pieces = Substitute(user_, record, origin_, &has_video);
  std::vector<model::ChatItem> items;
  if (!has_video) items.push_back(model::ChatItem::Video());
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (i > 0) items.push_back(model::ChatItem::Video());
    if (!pieces[i].empty()) items.push_back(model::ChatItem::Text(pieces[i]));
  }
  msgs.push_back(model::ChatMessage::List("user", std::move(items)));
  return msgs;
}

}  // namespace vstar::policy
