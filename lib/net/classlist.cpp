#include "net/classlist.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace vstar::net {
namespace {

using OJson = nlohmann::ordered_json;

std::string Trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

bool IsInteger(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

ClassEntry FromEntryText(const std::string& text, std::string key) {
  auto [name, description] = plugin::SplitClassEntry(text);
  return {name, description, std::move(key)};
}

std::vector<ClassEntry> FromJson(const OJson& j, const std::string& source) {
  std::vector<ClassEntry> out;
  auto bad = [&](const std::string& why) { return std::runtime_error("class list " + source + ": " + why); };
  if (j.is_object()) {
    bool numbered = std::all_of(j.items().begin(), j.items().end(), [](const auto& kv) { return IsInteger(kv.key()); });
    for (const auto& [k, v] : j.items()) {
      if (!v.is_string()) throw bad("value of \"" + k + "\" is not a string");
      if (numbered) out.push_back(FromEntryText(v.get<std::string>(), k));
      else out.push_back({Trim(k), Trim(v.get<std::string>()), std::to_string(out.size())});
    }
  } else if (j.is_array()) {
    for (const auto& v : j) {
      std::string key = std::to_string(out.size());
      if (v.is_string()) {
        out.push_back(FromEntryText(v.get<std::string>(), key));
      } else if (v.is_object() && v.contains("name") && v["name"].is_string()) {
        std::string d = v.contains("description") && v["description"].is_string() ? v["description"].get<std::string>() : "";
        out.push_back({Trim(v["name"].get<std::string>()), Trim(d), key});
      } else {
        throw bad("array item " + key + " is neither a string nor an object with a \"name\" string");
      }
    }
  } else {
    throw bad("JSON must be an object or an array");
  }
  return out;
}

}  // namespace

std::vector<ClassEntry> ParseClassList(const std::string& text, const std::string& source) {
  std::vector<ClassEntry> out;
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && (text[first] == '{' || text[first] == '[')) {
    OJson j;
    try {
      j = OJson::parse(text);
    } catch (const std::exception& e) {
      throw std::runtime_error("class list " + source + ": invalid JSON: " + e.what());
    }
    out = FromJson(j, source);
  } else {
    std::istringstream in(text);
    std::string line;
    size_t n = 0;
    bool csv = false;
    while (std::getline(in, line)) {
      ++n;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      std::string t = Trim(line);
      if (t.empty() || t[0] == '#') continue;
      if (out.empty() && !csv && t == "id,name") {
        csv = true;
        continue;
      }
      if (csv) {
        auto comma = t.find(',');
        if (comma == std::string::npos)
          throw std::runtime_error("class list " + source + ":" + std::to_string(n) + ": expected 'id,name'");
        out.push_back({Trim(t.substr(comma + 1)), "", Trim(t.substr(0, comma))});
      } else {
        out.push_back(FromEntryText(t, std::to_string(out.size())));
      }
      if (out.back().name.empty())
        throw std::runtime_error("class list " + source + ":" + std::to_string(n) + ": empty class name");
    }
  }
  for (const auto& e : out)
    if (e.name.empty()) throw std::runtime_error("class list " + source + ": entry " + e.key + " has an empty name");
  if (out.empty()) throw std::runtime_error("class list " + source + ": no classes");
  return out;
}

std::vector<ClassEntry> ReadClassList(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("class list " + file.string() + ": cannot open");
  std::stringstream s;
  s << in.rdbuf();
  return ParseClassList(s.str(), file.string());
}

}  // namespace vstar::net
