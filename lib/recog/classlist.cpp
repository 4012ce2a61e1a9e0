#include "recog/classlist.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "recog/text.hpp"

namespace vstar::recog {

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

ClassList ParseClassList(const std::string& text, const std::string& where) {
  ClassList list;
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && (text[first] == '{' || text[first] == '[')) {
    nlohmann::ordered_json j;
    try {
      j = nlohmann::ordered_json::parse(text);
    } catch (const std::exception& e) {
      throw std::runtime_error(where + ": not valid JSON: " + e.what());
    }
    if (j.is_object()) {
      for (auto& [key, value] : j.items()) {
        if (!value.is_string()) throw std::runtime_error(where + ": class \"" + key + "\" is not a string");
        list.items.push_back(CandidateFromLine(value.get<std::string>()));
      }
    } else {
      for (auto& value : j) {
        if (value.is_string()) {
          list.items.push_back({value.get<std::string>(), "", ""});
        } else if (value.is_object() && value.contains("name") && value["name"].is_string()) {
          Candidate c;
          c.name = value["name"].get<std::string>();
          if (value.contains("explanation") && value["explanation"].is_string())
            c.explanation = value["explanation"].get<std::string>();
          list.items.push_back(std::move(c));
        } else {
          throw std::runtime_error(where + ": array entries must be names or {\"name\",\"explanation\"}");
        }
      }
    }
  } else {
    for (const auto& raw : SplitLines(text)) {
      std::string line = raw;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (Strip(line).empty() || Strip(line)[0] == '#') continue;
      Candidate c;
      size_t tab = line.find('\t');
      c.name = Strip(line.substr(0, tab));
      if (tab != std::string::npos) c.explanation = Strip(line.substr(tab + 1));
      list.items.push_back(std::move(c));
    }
  }
  for (const auto& c : list.items)
    if (c.name.empty()) throw std::runtime_error(where + ": a class has an empty name");
  if (list.items.empty()) throw std::runtime_error(where + ": no classes");
  return list;
}

ClassList LoadClassList(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open class list " + file.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseClassList(ss.str(), file.string());
}

}  // namespace vstar::recog
