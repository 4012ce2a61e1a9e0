#include "policy/label_alias.hpp"

#include <algorithm>
#include <cctype>
#include <random>
#include <set>
#include <stdexcept>

namespace vstar::policy {
namespace {

bool Alnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

size_t Words(const std::string& name) {
  size_t n = 0;
  bool in = false;
  for (char c : name) {
    const bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
    n += !space && !in;
    in = !space;
  }
  return std::max<size_t>(n, 1);
}

std::mt19937_64 Rng(const std::string& key, uint64_t seed) {
  std::vector<uint32_t> s = {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
  for (unsigned char c : key) s.push_back(c);
  std::seed_seq seq(s.begin(), s.end());
  return std::mt19937_64(seq);
}

}  // namespace

std::map<std::string, std::string> LabelAliases(const std::vector<std::string>& names,
                                                const std::vector<std::string>& words,
                                                const std::string& key, uint64_t seed) {
  if (words.size() < 4)
    throw std::invalid_argument("label aliases need a pool of at least 4 words");
  std::mt19937_64 rng = Rng("aliases:" + key, seed);
  std::uniform_int_distribution<size_t> pick(0, words.size() - 1);
  std::map<std::string, std::string> out;
  std::set<std::string> taken(names.begin(), names.end());
  auto clashes = [&](const std::string& alias) {
    if (taken.count(alias)) return true;
    for (const auto& n : names)
      if (RenameLabels(alias, {{n, ""}}) != alias) return true;  // contains a name as whole words
    return false;
  };
  for (const auto& name : names) {
    if (out.count(name)) continue;
    std::string alias;
    for (int attempt = 0;; ++attempt) {
      if (attempt == 1000)
        throw std::runtime_error("cannot find a label alias for '" + name + "' in the word pool");
      alias.clear();
      for (size_t w = 0; w < Words(name); ++w) alias += (w ? " " : "") + words[pick(rng)];
      alias[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(alias[0])));
      if (!clashes(alias)) break;
    }
    taken.insert(alias);
    out[name] = alias;
  }
  return out;
}

std::vector<std::string> ConversationWords(const std::vector<const io::Json*>& conversations) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  auto scan = [&](const std::string& text) {
    for (size_t i = 0; i < text.size();) {
      if (!std::isalpha(static_cast<unsigned char>(text[i]))) {
        ++i;
        continue;
      }
      size_t j = i;
      while (j < text.size() && std::isalpha(static_cast<unsigned char>(text[j]))) ++j;
      const bool bounded = (i == 0 || !Alnum(text[i - 1])) && (j == text.size() || !Alnum(text[j]));
      if (bounded && j - i >= 3 && j - i <= 10) {
        std::string w = text.substr(i, j - i);
        std::transform(w.begin(), w.end(), w.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        if (seen.insert(w).second) out.push_back(w);
      }
      i = j;
    }
  };
  for (const io::Json* conv : conversations) {
    if (!conv || !conv->is_array()) continue;
    for (const auto& m : *conv) {
      if (!m.is_object() || !m.contains("content")) continue;
      const auto& c = m["content"];
      if (c.is_string()) scan(c.get<std::string>());
      if (!c.is_array()) continue;
      for (const auto& item : c)
        if (item.is_object() && item.value("type", "") == "text" && item.contains("text") &&
            item["text"].is_string())
          scan(item["text"].get<std::string>());
    }
  }
  return out;
}

std::string RenameLabels(const std::string& text,
                         const std::map<std::string, std::string>& aliases) {
  std::vector<const std::pair<const std::string, std::string>*> by_length;
  for (const auto& kv : aliases)
    if (!kv.first.empty()) by_length.push_back(&kv);
  std::stable_sort(by_length.begin(), by_length.end(),
                   [](const auto* a, const auto* b) { return a->first.size() > b->first.size(); });
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    bool replaced = false;
    if (i == 0 || !Alnum(text[i - 1])) {
      for (const auto* kv : by_length) {
        const std::string& name = kv->first;
        const size_t end = i + name.size();
        if (text.compare(i, name.size(), name) != 0 || (end < text.size() && Alnum(text[end])))
          continue;
        out += kv->second;
        i = end;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += text[i++];
  }
  return out;
}

void RenameLabelsInConversation(io::Json& messages,
                                const std::map<std::string, std::string>& aliases) {
  if (!messages.is_array()) return;
  for (auto& m : messages) {
    if (!m.is_object() || !m.contains("content")) continue;
    auto& c = m["content"];
    if (c.is_string()) c = RenameLabels(c.get<std::string>(), aliases);
    if (!c.is_array()) continue;
    for (auto& item : c)
      if (item.is_object() && item.value("type", "") == "text" && item.contains("text") &&
          item["text"].is_string())
        item["text"] = RenameLabels(item["text"].get<std::string>(), aliases);
  }
}

bool AliasedRecord(const std::string& id, double p, uint64_t seed) {
  if (p <= 0) return false;
  if (p >= 1) return true;
  std::mt19937_64 rng = Rng("record:" + id, seed);
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng) < p;
}

}  // namespace vstar::policy
