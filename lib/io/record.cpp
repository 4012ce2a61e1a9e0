#include "io/record.hpp"

#include <cctype>

namespace vstar::io {
namespace {

size_t SkipSpace(std::string_view s, size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  return i;
}

// `i` at an opening quote; returns one past the closing quote.
size_t SkipString(std::string_view s, size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  throw ParseError("unterminated string");
}

// `i` at the first byte of a value; returns one past its last byte.
size_t SkipValue(std::string_view s, size_t i) {
  if (i >= s.size()) throw ParseError("missing value");
  if (s[i] == '"') return SkipString(s, i);
  if (s[i] == '{' || s[i] == '[') {
    int depth = 0;
    for (; i < s.size(); ++i) {
      char c = s[i];
      if (c == '"') {
        i = SkipString(s, i) - 1;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) return i + 1;
      }
    }
    throw ParseError("unbalanced brackets");
  }
  // number, true, false, null
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' &&
         s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
    ++i;
  return i;
}

}  // namespace

std::vector<Member> ScanMembers(std::string_view s) {
  std::vector<Member> members;
  size_t i = SkipSpace(s, 0);
  if (i >= s.size() || s[i] != '{') throw ParseError("not a JSON object");
  i = SkipSpace(s, i + 1);
  if (i < s.size() && s[i] == '}') return members;
  while (i < s.size()) {
    if (s[i] != '"') throw ParseError("expected a key");
    Member m;
    m.key_begin = i;
    size_t key_end = SkipString(s, i);
    m.key = s.substr(i + 1, key_end - i - 2);
    i = SkipSpace(s, key_end);
    if (i >= s.size() || s[i] != ':') throw ParseError("expected ':'");
    i = SkipSpace(s, i + 1);
    m.value_begin = i;
    m.value_end = SkipValue(s, i);
    members.push_back(m);
    i = SkipSpace(s, m.value_end);
    if (i < s.size() && s[i] == ',') {
      i = SkipSpace(s, i + 1);
      continue;
    }
    if (i < s.size() && s[i] == '}') return members;
    throw ParseError("expected ',' or '}'");
  }
  throw ParseError("unterminated object");
}

std::string Dump(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Record::Record(std::string text, std::string source, size_t line)
    : text_(std::move(text)), source_(std::move(source)), line_(line) {}

std::string Record::where() const { return source_ + ":" + std::to_string(line_); }

namespace {
const Member* Find(const std::vector<Member>& members, std::string_view key) {
  // The last occurrence wins, as in most JSON parsers (and as our own splice keeps one copy).
  const Member* found = nullptr;
  for (auto& m : members)
    if (m.key == key) found = &m;
  return found;
}
}  // namespace

std::optional<std::string_view> Record::raw(std::string_view key) const {
  auto members = ScanMembers(text_);
  if (auto* m = Find(members, key))
    return std::string_view(text_).substr(m->value_begin, m->value_end - m->value_begin);
  return std::nullopt;
}

Json Record::get(std::string_view key) const {
  auto v = raw(key);
  if (!v) return Json();
  return Json::parse(*v);
}

std::optional<std::string> Record::string(std::string_view key) const {
  auto v = raw(key);
  if (!v || v->empty() || (*v)[0] != '"') return std::nullopt;
  return Json::parse(*v).get<std::string>();
}

std::string Record::id() const {
  auto v = raw("id");
  if (!v || v->empty()) return "";
  if ((*v)[0] == '"') return Json::parse(*v).get<std::string>();
  if ((*v)[0] == '-' || std::isdigit(static_cast<unsigned char>((*v)[0]))) return std::string(*v);
  return "";
}

void Record::set(std::string_view key, const Json& value) { set_raw(key, Dump(value)); }

void Record::set_raw(std::string_view key, std::string_view value_json) {
  auto members = ScanMembers(text_);
  if (auto* m = Find(members, key)) {
    text_.replace(m->value_begin, m->value_end - m->value_begin, value_json);
    return;
  }
  size_t close = text_.rfind('}');
  std::string insert;
  if (!members.empty()) insert += ',';
  insert += Dump(Json(std::string(key)));
  insert += ':';
  insert += value_json;
  text_.insert(close, insert);
}

void Record::erase(std::string_view key) {
  auto members = ScanMembers(text_);
  auto* m = Find(members, key);
  if (!m) return;
  size_t begin = m->key_begin, end = m->value_end;
  // Remove one adjoining comma so the object stays valid.
  size_t after = SkipSpace(text_, end);
  if (after < text_.size() && text_[after] == ',') {
    end = SkipSpace(text_, after + 1);
  } else {
    size_t before = begin;
    while (before > 0 && (text_[before - 1] == ' ' || text_[before - 1] == '\t')) --before;
    if (before > 0 && text_[before - 1] == ',') begin = before - 1;
  }
  text_.erase(begin, end - begin);
}

void Record::set_error(std::string_view stage, std::string_view message) {
  set("error", Json{{"stage", std::string(stage)}, {"message", std::string(message)}});
}

}  // namespace vstar::io
