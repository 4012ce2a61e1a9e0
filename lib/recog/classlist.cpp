#include "recog/classlist.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <stdexcept>

#include "io/text.hpp"
#include "recog/text.hpp"

namespace vstar::recog {
namespace {

using OJson = nlohmann::ordered_json;

// Fills `line` for a candidate that was not read from a "Name: description" value.
Candidate Make(std::string name, std::string explanation, std::string key) {
  Candidate c;
  c.name = Strip(name);
  c.explanation = Strip(explanation);
  if (!c.explanation.empty()) c.line = c.name + ": " + c.explanation;
  c.key = std::move(key);
  return c;
}

bool IsInteger(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::string KeyText(const OJson& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::string StringAt(const OJson& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// One object of a JSON array or a JSONL line: vs-explain's class records ("class", "explain") or
// {"name", "explanation"|"description"} objects (vs-import --classes-out).
Candidate FromObject(const OJson& o, std::string key, const std::string& where) {
  bool vs_explain = o.contains("class");
  const char* name_key = vs_explain ? "class" : "name";
  if (!o[name_key].is_string()) throw std::runtime_error(where + ": \"" + name_key + "\" is not a string");
  std::string name = o[name_key].get<std::string>();
  if (o.contains("error"))
    throw std::runtime_error(where + ": vs-explain failed for class '" + name + "' (the record carries an error)");
  if (o.contains("id")) key = KeyText(o["id"]);
  std::string description = StringAt(o, "description");
  std::string explanation = StringAt(o, "explanation");
  auto ex = o.find("explain");
  if (ex != o.end() && ex->is_object() && ex->value("found", false)) explanation = StringAt(*ex, "text");
  if (Strip(explanation).empty()) explanation = description;
  Candidate c = Make(name, explanation, std::move(key));
  // The authors' line is their dict value "Name: description"; an explanation written later (vs-explain)
  // does not change it.
  if (!Strip(description).empty()) c.line = c.name + ": " + Strip(description);
  return c;
}

bool IsRecordObject(const OJson& o) {
  return o.is_object() && ((o.contains("class") && o["class"].is_string()) || (o.contains("name") && o["name"].is_string()));
}

ClassList FromJsonValue(const OJson& j, const std::string& where) {
  ClassList list;
  if (IsRecordObject(j)) {  // a JSONL file of one line
    list.items.push_back(FromObject(j, "0", where));
  } else if (j.is_object()) {
    bool numbered = std::all_of(j.items().begin(), j.items().end(), [](const auto& kv) { return IsInteger(kv.key()); });
    for (const auto& [k, v] : j.items()) {
      if (!v.is_string()) throw std::runtime_error(where + ": class \"" + k + "\" is not a string");
      if (numbered) {
        Candidate c = CandidateFromLine(v.get<std::string>());
        c.key = k;
        list.items.push_back(std::move(c));
      } else {
        list.items.push_back(Make(k, v.get<std::string>(), std::to_string(list.items.size())));
      }
    }
  } else if (j.is_array()) {
    for (const auto& v : j) {
      std::string key = std::to_string(list.items.size());
      if (v.is_string()) {
        Candidate c = CandidateFromLine(v.get<std::string>());
        if (c.explanation.empty()) c.line.clear();
        c.key = key;
        list.items.push_back(std::move(c));
      } else if (IsRecordObject(v)) {
        list.items.push_back(FromObject(v, key, where + " item " + key));
      } else {
        throw std::runtime_error(where + ": item " + key +
                                 " is neither a string nor an object with a \"name\" or \"class\" string");
      }
    }
  } else {
    throw std::runtime_error(where + ": a JSON class list must be an object or an array");
  }
  return list;
}

// RFC 4180 records; quoted fields may hold commas, doubled quotes and newlines.
std::vector<std::vector<std::string>> CsvRows(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, any = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char ch = text[i];
    if (quoted) {
      if (ch == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (ch == '"') {
        quoted = false;
      } else {
        field += ch;
      }
    } else if (ch == '"') {
      quoted = any = true;
    } else if (ch == ',') {
      row.push_back(field);
      field.clear();
      any = true;
    } else if (ch == '\n' || ch == '\r') {
      if (ch == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      if (any || !field.empty()) {
        row.push_back(field);
        rows.push_back(row);
      }
      row.clear();
      field.clear();
      any = false;
    } else {
      field += ch;
    }
  }
  if (quoted) throw std::runtime_error("unterminated quoted field");
  if (any || !field.empty()) {
    row.push_back(field);
    rows.push_back(row);
  }
  return rows;
}

// The CSV header, when the first line is one: comma-separated column names that include `name`, all
// of them known. Empty otherwise.
std::vector<std::string> CsvHeader(const std::string& first_line) {
  if (first_line.find(',') == std::string::npos || first_line.find('\t') != std::string::npos) return {};
  std::vector<std::string> cols;
  std::stringstream ss(first_line);
  std::string col;
  while (std::getline(ss, col, ',')) cols.push_back(Lower(Strip(col)));
  bool has_name = std::find(cols.begin(), cols.end(), "name") != cols.end();
  bool known = std::all_of(cols.begin(), cols.end(), [](const std::string& c) {
    return c == "id" || c == "name" || c == "description" || c == "explanation";
  });
  return has_name && known ? cols : std::vector<std::string>{};
}

ClassList FromCsv(const std::string& text, const std::vector<std::string>& header, const std::string& where) {
  std::vector<std::vector<std::string>> rows;
  try {
    rows = CsvRows(text);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(where + ": " + e.what());
  }
  ClassList list;
  for (size_t r = 1; r < rows.size(); ++r) {
    const auto& row = rows[r];
    if (row.size() == 1 && Strip(row[0]).empty()) continue;
    if (row.size() != header.size())
      throw std::runtime_error(where + ": CSV row " + std::to_string(r + 1) + " has " + std::to_string(row.size()) +
                               " fields, the header " + std::to_string(header.size()));
    std::string name, explanation, key = std::to_string(list.items.size());
    for (size_t k = 0; k < header.size(); ++k) {
      if (header[k] == "name") name = row[k];
      else if (header[k] == "id") key = Strip(row[k]);
      else explanation = row[k];
    }
    list.items.push_back(Make(name, explanation, key));
  }
  return list;
}

bool IsJsonl(const std::string& text) {
  // More than one non-blank line, each starting with '{' (a JSON object per line).
  size_t lines = 0;
  for (const auto& l : SplitLines(text)) {
    std::string s = Strip(l);
    if (s.empty()) continue;
    if (s[0] != '{') return false;
    ++lines;
  }
  return lines > 1;
}

ClassList FromJsonl(const std::string& text, const std::string& where) {
  ClassList list;
  size_t n = 0;
  for (const auto& l : SplitLines(text)) {
    ++n;
    if (Strip(l).empty()) continue;
    std::string at = where + ":" + std::to_string(n);
    OJson o;
    try {
      o = OJson::parse(l);
    } catch (const std::exception& e) {
      throw std::runtime_error(at + ": not JSON: " + e.what());
    }
    if (!IsRecordObject(o)) throw std::runtime_error(at + ": a JSONL class record needs a string \"name\" or \"class\"");
    list.items.push_back(FromObject(o, std::to_string(list.items.size()), at));
  }
  return list;
}

ClassList FromLines(const std::string& text, const std::string& where) {
  ClassList list;
  for (const auto& raw : SplitLines(text)) {
    std::string line = Strip(raw);
    if (line.empty() || line[0] == '#') continue;
    std::string key = std::to_string(list.items.size());
    size_t tab = line.find('\t');
    if (tab != std::string::npos) {
      list.items.push_back(Make(line.substr(0, tab), line.substr(tab + 1), key));
    } else {
      Candidate c = CandidateFromLine(line);
      if (c.explanation.empty()) c.line.clear();
      c.key = key;
      list.items.push_back(std::move(c));
    }
  }
  return list;
}

void Validate(const ClassList& list, const std::string& where) {
  for (size_t i = 0; i < list.items.size(); ++i)
    if (list.items[i].name.empty())
      throw std::runtime_error(where + ": class " + std::to_string(i + 1) + " (key " + list.items[i].key +
                               ") has an empty name");
  if (list.items.empty()) throw std::runtime_error(where + ": no classes");
}

}  // namespace

Candidate CandidateFromLine(const std::string& line) {
  Candidate c;
  c.line = line;
  size_t colon = line.find(':');
  c.name = Strip(line.substr(0, colon));
  if (colon != std::string::npos) c.explanation = Strip(line.substr(colon + 1));
  return c;
}

std::optional<size_t> ClassList::Find(std::string_view text, bool* ambiguous) const {
  if (ambiguous) *ambiguous = false;
  std::string key = LabelKey(text);
  if (key.empty()) return std::nullopt;
  std::optional<size_t> hit;
  for (size_t i = 0; i < items.size(); ++i) {
    if (LabelKey(items[i].name) != key) continue;
    if (hit) {
      if (ambiguous) *ambiguous = true;
      return std::nullopt;
    }
    hit = i;
  }
  return hit;
}

std::vector<std::string> ClassList::Names() const {
  std::vector<std::string> out;
  for (const auto& c : items) out.push_back(c.name);
  return out;
}

bool ClassList::explained() const {
  return std::any_of(items.begin(), items.end(), [](const Candidate& c) { return !c.explanation.empty(); });
}

nlohmann::ordered_json ClassList::ToJson() const {
  auto arr = nlohmann::ordered_json::array();
  for (const auto& c : items) {
    nlohmann::ordered_json o;
    o["name"] = c.name;
    o["explanation"] = c.explanation;
    arr.push_back(std::move(o));
  }
  return arr;
}

ClassList ClassListFromJson(const nlohmann::ordered_json& value, const std::string& where) {
  ClassList list = FromJsonValue(value, where);
  Validate(list, where);
  return list;
}

ClassList ParseClassList(const std::string& text, const std::string& where) {
  ClassList list;
  std::string body = text.rfind("\xEF\xBB\xBF", 0) == 0 ? text.substr(3) : text;  // a UTF-8 byte-order mark
  size_t first = body.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && (body[first] == '{' || body[first] == '[')) {
    if (body[first] == '{' && IsJsonl(body)) {
      list = FromJsonl(body, where);
    } else {
      OJson j;
      try {
        j = OJson::parse(body);
      } catch (const std::exception& e) {
        throw std::runtime_error(where + ": not valid JSON: " + e.what());
      }
      list = FromJsonValue(j, where);
    }
  } else {
    std::string head;
    for (const auto& l : SplitLines(body)) {
      std::string s = Strip(l);
      if (!s.empty() && s[0] != '#') {
        head = s;
        break;
      }
    }
    auto header = CsvHeader(head);
    list = header.empty() ? FromLines(body, where) : FromCsv(body.substr(body.find(head)), header, where);
  }
  Validate(list, where);
  return list;
}

ClassList LoadClassList(const std::filesystem::path& file) {
  return ParseClassList(io::ReadFile(file, "class list"), "class list " + file.string());
}

}  // namespace vstar::recog
