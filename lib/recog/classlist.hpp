#pragma once
// Candidate label lists: the one reader behind every --classes / --candidates flag and the plugin
// host's class-list service, so the same line gives the same name and description everywhere.
// Forms read (detected from the content):
//  - text, one class per line ('#' starts a comment line, blank lines are skipped):
//      name                      a name alone
//      Name: description         split at the first ':' (the authors' value.split(':')[0].strip())
//      name<TAB>description      TSV: split at the first tab (a tab wins over a ':')
//  - CSV with a header naming its columns: `name` and optionally `id`, `description` or
//    `explanation` (e.g. ViFi-CLIP's "id,name" label files); RFC 4180 quoting
//  - JSON: the authors' class dicts {"0": "Name: description", ...} (key order kept), {"Name":
//    "description"} objects, arrays of "Name: description" strings or of objects (below)
//  - JSONL, one object per line (vs-import --classes-out's {"name", "explanation"} objects and
//    vs-explain --what classes records {"id", "class", "description", "explain": {"text", "found"}};
//    an explanation counts only when `explain.found` is true, else `explanation`/`description`)
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vstar::recog {

struct Candidate {
  std::string name;         // the label as shown to the model and expected in <answer>
  std::string explanation;  // may be empty
  // The authors' dict line "Name: description": the value verbatim when read from such a line, else
  // "name: explanation" when there is an explanation, else empty.
  std::string line;
  std::string key = {};  // the JSON key, CSV id or record id when the list gives one, else the position
};

struct ClassList {
  std::vector<Candidate> items;

  size_t size() const { return items.size(); }
  // Index of the candidate whose LabelKey equals LabelKey(text); nullopt when none. `ambiguous` is set
  // when two candidates share that key (then nullopt too: never guess).
  std::optional<size_t> Find(std::string_view text, bool* ambiguous = nullptr) const;
  std::vector<std::string> Names() const;
  bool explained() const;                 // any candidate carries an explanation
  nlohmann::ordered_json ToJson() const;  // array of {"name","explanation"}
};

// Throws std::runtime_error naming the file (and line) on unreadable or malformed input, a record of
// a failed vs-explain class, an empty name or an empty list.
ClassList LoadClassList(const std::filesystem::path& file);
ClassList ParseClassList(const std::string& text, const std::string& where);
// A list held in a record (its "candidates" value): any JSON form above.
ClassList ClassListFromJson(const nlohmann::ordered_json& value, const std::string& where);
// The authors' split rule for one dict value: name = value.split(':')[0].strip(), explanation = the
// rest after the first ':' stripped; `line` keeps the value.
Candidate CandidateFromLine(const std::string& line);

}  // namespace vstar::recog
