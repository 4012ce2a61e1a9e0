#include "precomputed.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace vstar::precomputed {
namespace {

using Json = nlohmann::json;
using plugin::NormaliseName;

std::vector<std::string> Files(const plugin::Config& c, const std::string& key) {
  std::vector<std::string> out;
  std::string v = c.get(key);
  std::stringstream s(v);
  std::string part;
  while (std::getline(s, part, ','))
    if (!part.empty()) out.push_back(part);
  return out;
}

// Created without its files (as listing tools create every plugin), the tool describes itself and
// refuses to answer; with files, bad ones fail at creation.
std::string MissingOption(const char* plugin_kind, const char* key) {
  return std::string("precomputed (") + plugin_kind + "): give --plugin-opt " + key + "=FILE[,FILE...]";
}

std::string ReadAll(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw plugin::Error("precomputed: cannot open " + file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string KeyText(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  return "";
}

}  // namespace

PrecomputedExplainer::PrecomputedExplainer(const plugin::Config& config) {
  auto files = Files(config, "classes");
  if (files.empty()) missing_ = MissingOption("explain", "classes");
  if (!files.empty() && !config.host)
    throw plugin::Error("precomputed (explain): the host offers no class-list reader");
  for (const auto& file : files) {
    std::vector<plugin::ClassEntry> entries;
    try {
      entries = config.host->ReadClassList(file);
    } catch (const std::exception& e) {
      throw plugin::Error(std::string("precomputed: ") + e.what());
    }
    for (const auto& e : entries)
      if (!e.description.empty()) by_name_.emplace(NormaliseName(e.name), std::make_pair(e.description, file));
  }
}

plugin::Info PrecomputedExplainer::info() const {
  return {"precomputed", plugin::Kind::kExplain, "1.0", "class explanations read from user files",
          {{"classes", "class lists with descriptions (comma-separated files)", ""},
           {"descriptions", "per-video description files (describe kind)", ""}}};
}

std::vector<plugin::Text> PrecomputedExplainer::Explain(const std::vector<std::string>& class_names) {
  if (!missing_.empty()) throw plugin::Error(missing_);
  std::vector<plugin::Text> out;
  for (const auto& entry : class_names) {
    plugin::Text t;
    auto colon = entry.find(':');
    t.subject = entry.substr(0, colon);
    while (!t.subject.empty() && t.subject.back() == ' ') t.subject.pop_back();
    if (auto it = by_name_.find(NormaliseName(t.subject)); it != by_name_.end()) {
      t.text = it->second.first;
      t.found = true;
      t.source = "precomputed:" + it->second.second;
    } else {
      t.source = "precomputed:none";
    }
    out.push_back(std::move(t));
  }
  return out;
}

void PrecomputedDescriber::Index(std::map<std::string, Slot>& map, const std::string& key, size_t text) {
  auto [it, fresh] = map.emplace(key, Slot{text, false});
  if (!fresh && texts_[it->second.text].first != texts_[text].first) it->second.ambiguous = true;
}

PrecomputedDescriber::PrecomputedDescriber(const plugin::Config& config) {
  auto files = Files(config, "descriptions");
  if (files.empty()) {
    missing_ = MissingOption("describe", "descriptions");
    return;
  }
  for (const auto& file : files) {
    std::string data = ReadAll(file);
    std::vector<Json> items;
    size_t first = data.find_first_not_of(" \t\r\n");
    try {
      if (first != std::string::npos && data[first] == '[') {
        for (auto& v : Json::parse(data)) items.push_back(std::move(v));
      } else {
        std::istringstream in(data);
        std::string line;
        while (std::getline(in, line))
          if (line.find_first_not_of(" \t\r") != std::string::npos) items.push_back(Json::parse(line));
      }
    } catch (const Json::exception& e) {
      throw plugin::Error("precomputed: " + file + ": invalid JSON: " + e.what());
    }
    for (size_t i = 0; i < items.size(); ++i) {
      const Json& item = items[i];
      if (!item.is_object()) throw plugin::Error("precomputed: " + file + ": item " + std::to_string(i) + " is not an object");
      std::string text;
      for (const char* k : {"analysis", "description", "text", "explanation"})
        if (item.contains(k) && item[k].is_string()) {
          text = item[k].get<std::string>();
          break;
        }
      if (text.empty()) continue;
      texts_.emplace_back(text, file);
      size_t t = texts_.size() - 1;
      if (item.contains("path") && item["path"].is_string()) {
        std::string path = item["path"].get<std::string>();
        Index(by_path_, path, t);
        for (size_t at = path.find('/'); at != std::string::npos; at = path.find('/', at + 1))
          Index(by_path_, path.substr(at + 1), t);
      }
      for (const char* k : {"problem_id", "id"})
        if (item.contains(k) && !KeyText(item[k]).empty()) Index(by_id_, KeyText(item[k]), t);
    }
  }
  if (texts_.empty()) throw plugin::Error("precomputed: the description files hold no texts");
}

plugin::Info PrecomputedDescriber::info() const {
  return {"precomputed", plugin::Kind::kDescribe, "1.0",
          "video descriptions read from user files (" + std::to_string(texts_.size()) + " loaded)",
          {{"classes", "class lists with descriptions (explain kind)", ""},
           {"descriptions", "per-video description files, comma-separated", ""}}};
}

plugin::Text PrecomputedDescriber::Describe(const std::string& video_id, const std::vector<plugin::Image>&) {
  if (!missing_.empty()) throw plugin::Error(missing_);
  plugin::Text t;
  t.subject = video_id;
  t.source = "precomputed:none";
  auto take = [&](const Slot& s) {
    t.text = texts_[s.text].first;
    t.found = true;
    t.source = "precomputed:" + texts_[s.text].second;
  };
  // The longest trailing part of the id that names one text.
  for (size_t at = 0;;) {
    std::string suffix = video_id.substr(at);
    if (auto it = by_path_.find(suffix); it != by_path_.end() && !it->second.ambiguous) {
      take(it->second);
      return t;
    }
    at = video_id.find('/', at);
    if (at == std::string::npos) break;
    ++at;
  }
  if (auto it = by_id_.find(video_id); it != by_id_.end() && !it->second.ambiguous) take(it->second);
  return t;
}

std::unique_ptr<plugin::Tool> CreatePrecomputedTool(const plugin::Config& config) {
  switch (config.kind) {
    case plugin::Kind::kExplain: return std::make_unique<PrecomputedExplainer>(config);
    case plugin::Kind::kDescribe: return std::make_unique<PrecomputedDescriber>(config);
    default:
      throw plugin::Error(std::string("precomputed: serves explain and describe, not ") +
                          plugin::KindName(config.kind));
  }
}

}  // namespace vstar::precomputed
