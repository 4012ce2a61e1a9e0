#include "kb.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <stdexcept>
#include <unordered_set>

namespace vstar::local {
namespace {

using plugin::Trim;

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return out;
    start = at + 1;
  }
}

bool IsStopWord(const std::string& w) {
  static const std::unordered_set<std::string> kStop = {
      "a", "an", "the", "of", "on", "in", "at", "to", "and", "or", "with", "by", "for", "from", "into",
      "onto", "over", "up", "down", "out", "then", "it", "its", "their", "is", "are", "one", "other",
      "each", "may", "another", "person", "someone", "people", "while", "as", "be", "do", "doing"};
  return kStop.count(w) > 0;
}

std::string Stem(std::string w) {
  if (w.size() > 5 && w.ends_with("ing")) w.resize(w.size() - 3);
  else if (w.size() > 3 && w.ends_with("es") && (w.ends_with("shes") || w.ends_with("ches"))) w.resize(w.size() - 2);
  else if (w.size() > 3 && w.back() == 's' && !w.ends_with("ss")) w.pop_back();
  // "swinging" -> "swing", "running" -> "runn" -> "run": fold a doubled final consonant.
  if (w.size() > 3 && w[w.size() - 1] == w[w.size() - 2] && std::string("aeiouls").find(w.back()) == std::string::npos)
    w.pop_back();
  return w;
}

using plugin::NormaliseName;

}  // namespace

std::vector<std::string> Tokenise(std::string_view text) {
  std::vector<std::string> words;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) {
      if (!IsStopWord(cur)) words.push_back(Stem(cur));
      cur.clear();
    }
  };
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = text[i];
    if (!std::isalnum(c)) {
      flush();
      continue;
    }
    // A capital after a lowercase letter starts a word ("ApplyEyeMakeup").
    if (std::isupper(c) && i > 0 && std::islower(static_cast<unsigned char>(text[i - 1]))) flush();
    cur += static_cast<char>(std::tolower(c));
  }
  flush();
  return words;
}

KnowledgeBase KnowledgeBase::Load(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("knowledge base " + file.string() + ": cannot open");
  KnowledgeBase kb;
  kb.file_ = file;
  std::string line;
  size_t n = 0;
  auto where = [&] { return file.string() + ":" + std::to_string(n); };
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (Trim(line).empty() || line[0] == '#') continue;
    auto cols = Split(line, '\t');
    if (cols.size() != 3)
      throw std::runtime_error(where() + ": expected 3 TAB-separated columns (name, aliases, definition), got " +
                               std::to_string(cols.size()));
    KbEntry e;
    e.name = Trim(cols[0]);
    e.definition = Trim(cols[2]);
    e.line = n;
    for (auto& a : Split(cols[1], ','))
      if (!Trim(a).empty()) e.aliases.push_back(Trim(a));
    if (NormaliseName(e.name).empty()) throw std::runtime_error(where() + ": empty name");
    if (e.definition.empty()) throw std::runtime_error(where() + ": empty definition for '" + e.name + "'");
    size_t index = kb.entries_.size();
    std::vector<std::string> keys = {e.name};
    keys.insert(keys.end(), e.aliases.begin(), e.aliases.end());
    for (const auto& k : keys) {
      std::string key = NormaliseName(k);
      auto [it, fresh] = kb.by_name_.emplace(key, index);
      if (!fresh && it->second != index)
        throw std::runtime_error(where() + ": name '" + k + "' already belongs to '" +
                                 kb.entries_[it->second].name + "' (line " +
                                 std::to_string(kb.entries_[it->second].line) + ")");
    }
    kb.entries_.push_back(std::move(e));
  }
  if (kb.entries_.empty()) throw std::runtime_error("knowledge base " + file.string() + ": no entries");
  // Index for BM25. Names and aliases count twice: they say what the action is called.
  size_t total = 0;
  for (const auto& e : kb.entries_) {
    std::unordered_map<std::string, int> tf;
    size_t len = 0;
    auto add = [&](const std::string& text, int weight) {
      for (auto& w : Tokenise(text)) {
        tf[w] += weight;
        len += weight;
      }
    };
    add(e.name, 2);
    for (const auto& a : e.aliases) add(a, 2);
    add(e.definition, 1);
    for (const auto& [w, _] : tf) ++kb.doc_freq_[w];
    kb.term_freq_.push_back(std::move(tf));
    kb.doc_len_.push_back(len);
    total += len;
  }
  kb.avg_len_ = static_cast<double>(total) / kb.entries_.size();
  return kb;
}

const KbEntry* KnowledgeBase::Find(std::string_view name) const {
  auto it = by_name_.find(NormaliseName(std::string(name)));
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

std::vector<KnowledgeBase::Hit> KnowledgeBase::Search(std::string_view query, size_t k, double min_score) const {
  constexpr double k1 = 1.2, b = 0.75;
  auto terms = Tokenise(query);
  std::sort(terms.begin(), terms.end());
  terms.erase(std::unique(terms.begin(), terms.end()), terms.end());
  const double n_docs = static_cast<double>(entries_.size());
  std::vector<Hit> hits;
  for (size_t d = 0; d < entries_.size(); ++d) {
    double score = 0;
    for (const auto& t : terms) {
      auto f = term_freq_[d].find(t);
      if (f == term_freq_[d].end()) continue;
      double df = static_cast<double>(doc_freq_.at(t));
      double idf = std::log(1.0 + (n_docs - df + 0.5) / (df + 0.5));
      double tf = f->second;
      score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * doc_len_[d] / avg_len_));
    }
    if (score >= min_score && score > 0) hits.push_back({&entries_[d], score});
  }
  std::stable_sort(hits.begin(), hits.end(), [](const Hit& x, const Hit& y) { return x.score > y.score; });
  if (hits.size() > k) hits.resize(k);
  return hits;
}

namespace {

std::filesystem::path KbPath(const plugin::Config& c) {
  if (!c.get("kb").empty()) return c.get("kb");
  if (!c.model.empty()) return c.model;
  if (c.share_dir.empty()) throw plugin::Error("local: no share directory and no kb= option; cannot find the knowledge base");
  return std::filesystem::path(c.share_dir) / "kb" / "actions.tsv";
}

KnowledgeBase LoadKb(const plugin::Config& c) {
  try {
    return KnowledgeBase::Load(KbPath(c));
  } catch (const std::runtime_error& e) {
    throw plugin::Error(std::string("local: ") + e.what());
  }
}

}  // namespace

LocalExplainer::LocalExplainer(const plugin::Config& config)
    : kb_(LoadKb(config)),
      nearest_(static_cast<size_t>(plugin::IntegerOption(config, "local", "nearest", 3, 0))),
      min_score_(plugin::NumberOption(config, "local", "min_score", 1.5, 0)) {}

plugin::Info LocalExplainer::info() const {
  return {"local",
          plugin::Kind::kExplain,
          "1.0",
          "offline class definitions in body-part form from vstar's own knowledge base (" +
              std::to_string(kb_.entries().size()) + " actions)",
          {{"kb", "knowledge base TSV (name, aliases, definition)", "<share>/kb/actions.tsv"},
           {"nearest", "nearest entries returned for unknown names (0 = none)", "3"},
           {"min_score", "lowest BM25 score counted as near", "1.5"}}};
}

std::vector<plugin::Text> LocalExplainer::Explain(const std::vector<std::string>& class_names) {
  std::vector<plugin::Text> out;
  for (const auto& entry : class_names) {
    auto [name, description] = plugin::SplitClassEntry(entry);
    plugin::Text t;
    t.subject = name;
    if (const KbEntry* e = kb_.Find(name)) {
      t.text = e->definition;
      t.found = true;
      t.source = "local:exact:" + e->name;
    } else if (auto hits = kb_.Search(name + " " + description, nearest_, min_score_); !hits.empty()) {
      // Offered, not found: the text defines other actions. Marked in the text itself too, so no reader
      // mistakes it for a definition of `name`.
      t.text = "No definition of '" + name + "' is known; nearest known actions:";
      t.source = "local:nearest:";
      for (size_t i = 0; i < hits.size(); ++i) {
        t.text += (i ? "; " : " ") + hits[i].entry->name + " (" + hits[i].entry->definition + ")";
        t.source += (i ? "|" : "") + hits[i].entry->name;
      }
      t.found = false;
    } else {
      t.source = "local:none";
    }
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace vstar::local
