#pragma once
// The `local` explainer: our own knowledge base of action definitions (share/vstar/kb/actions.tsv),
// looked up by normalised name, with BM25 retrieval over the entries for names it does not know.
// It never invents text: an unknown name gets the nearest entries, clearly marked as such, or an
// honest "no definition".
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <vstar/plugin.h>

namespace vstar::local {

// Names compare by plugin::NormaliseName ("Brush_hair" == "brush hair" == "BrushHair").
// Words for retrieval: splits at non-alphanumerics and camelCase humps, lowercases, drops stop
// words, and strips a plural "s" / "ing" ending so that "Jumping" meets "jump".
std::vector<std::string> Tokenise(std::string_view text);

struct KbEntry {
  std::string name;
  std::vector<std::string> aliases;
  std::string definition;
  size_t line = 0;
};

class KnowledgeBase {
 public:
  // Reads the TSV (name, aliases, definition; '#' comments). Throws std::runtime_error naming
  // file:line for a malformed line, an empty definition, or a name claimed by two entries.
  static KnowledgeBase Load(const std::filesystem::path& file);

  const KbEntry* Find(std::string_view name) const;  // by normalised name or alias
  struct Hit {
    const KbEntry* entry;
    double score;
  };
  // BM25 (k1 = 1.2, b = 0.75) over name, aliases and definition; hits scoring at least
  // `min_score`, best first, at most `k`.
  std::vector<Hit> Search(std::string_view query, size_t k, double min_score) const;
  const std::vector<KbEntry>& entries() const { return entries_; }
  const std::filesystem::path& file() const { return file_; }

 private:
  std::filesystem::path file_;
  std::vector<KbEntry> entries_;
  std::unordered_map<std::string, size_t> by_name_;
  std::vector<std::unordered_map<std::string, int>> term_freq_;
  std::vector<size_t> doc_len_;
  std::unordered_map<std::string, size_t> doc_freq_;
  double avg_len_ = 0;
};

class LocalExplainer : public plugin::Explainer {
 public:
  // Options: kb (path; default <share>/kb/actions.tsv, or Config::model when given), nearest (how many
  // nearest entries for unknown names, 0 = none; default 3), min_score (BM25 floor; default 1.5).
  explicit LocalExplainer(const plugin::Config& config);
  plugin::Info info() const override;
  // Source is "local:exact:<entry>", "local:nearest:<entry>|<entry>..." or "local:none".
  std::vector<plugin::Text> Explain(const std::vector<std::string>& class_names) override;
  const KnowledgeBase& kb() const { return kb_; }

 private:
  KnowledgeBase kb_;
  size_t nearest_;
  double min_score_;
};

}  // namespace vstar::local
