#pragma once
// Candidate label lists. Three on-disk forms are read:
//  - the authors' class dicts {"0": "<Name>: <description>", ...} (key order preserved, §1.3);
//  - a JSON array of names or of {"name", "explanation"} objects (what vs-import writes);
//  - plain text, one name per line, optionally "name<TAB>explanation" ('#' starts a comment line).
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vstar::recog {

struct Candidate {
  std::string name;         // the label as shown to the model and expected in <answer>
  std::string explanation;  // may be empty
  std::string line;         // the authors' full dict value ("Name: description"), when read from one
};

struct ClassList {
  std::vector<Candidate> items;

  size_t size() const { return items.size(); }
  // Index of the candidate whose LabelKey equals LabelKey(text); nullopt when none. `ambiguous` is set
  // when two candidates share that key (then nullopt too: never guess).
  std::optional<size_t> Find(std::string_view text, bool* ambiguous = nullptr) const;
  std::vector<std::string> Names() const;
  nlohmann::ordered_json ToJson() const;  // array of {"name","explanation"}
};

// Throws std::runtime_error naming the file on unreadable or malformed input.
ClassList LoadClassList(const std::filesystem::path& file);
ClassList ParseClassList(const std::string& text, const std::string& where);
// The authors' split rule for one dict value: name = value.split(':')[0].strip(), explanation = the
// rest after the first ':' stripped.
Candidate CandidateFromLine(const std::string& line);

}  // namespace vstar::recog
