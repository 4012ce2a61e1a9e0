#pragma once
// vs-audit: label leakage and protocol faults in datasets and prompts (man vs-audit).
// Checks (each finding names the check, the file(s), a count over a total and examples):
//  path-label-leak        the class folder of "path" equals the label (normalised): the path names the answer
//  label-folder-mismatch  the folder names a *different* class of the same file (swapped labels)
//  train-test-overlap     test videos (by file name) that also occur in a training file
//  label-outside-candidates  training samples whose label is not in the training prompt's candidate list
//  label-in-prompt        the rendered turn-1/turn-2 text, outside the candidate list, mentions the label
//                         or the class folder (word sequence or run-together words), or a checked field does
//  identical-files        two training files with the same records (informational, not a problem)
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "io/stream.hpp"
#include "recog/classlist.hpp"
#include "recog/profile.hpp"

namespace vstar::eval {

struct Finding {
  Finding(std::string check_, std::string file_, std::string other_ = "")
      : check(std::move(check_)), file(std::move(file_)), other(std::move(other_)) {}
  std::string check;
  std::string file;
  std::string other;  // the second file of a pair check
  size_t count = 0, total = 0;
  bool problem = true;
  nlohmann::ordered_json detail = nlohmann::ordered_json::object();
  nlohmann::ordered_json ToJson() const;
};

// One file of records: the authors' question arrays or our manifests (JSONL).
struct AuditFile {
  std::string name;
  std::vector<nlohmann::ordered_json> records;
  std::optional<recog::ClassList> classes;  // the candidate list its prompts show
  std::string root;                         // dataset root (for the official annotated-path text)
};
AuditFile LoadAuditFile(const std::string& path);

// True when `text` mentions `name`: its words as a contiguous word sequence, or its run-together key as
// one word ("ApplyEyeMakeup" mentions "Apply Eye Makeup").
bool Mentions(const std::vector<std::string>& text_words, const std::string& name);

struct AuditInput {
  std::vector<AuditFile> train, test;
  std::optional<recog::Profile> profile;  // render prompts of every record with it
  std::vector<std::string> fields;        // dotted record fields the model sees, checked for the label
};

std::vector<Finding> Audit(const AuditInput& in);

struct AuditOptions {
  std::vector<std::string> train, test;
  std::string classes;        // candidate list of the training prompts (label-outside-candidates)
  std::string test_classes;   // candidate list of the test prompts
  std::string official;       // --official DIR: the authors' data layout, every file and pairing
  std::vector<std::string> fields;
  bool render = false;        // --render: check the prompts of the profile below
  recog::ProfileOptions profile;
  std::string markdown;  // --markdown FILE
  void Register(CLI::App& app);
};
// The authors' data directory (sft.json, rl.json, json/<dataset>/..., json_split/...): training files
// with their candidate lists and the evaluation files of the same dataset.
AuditInput OfficialLayout(const std::string& data_dir);
// Audits what `opt` names plus the stream's -i inputs (as test files) and writes the JSON report to the
// stream's -o. Returns 0 (no problem) or 3 (problems found); throws io::UsageError when an input cannot
// be loaded, other exceptions when the report cannot be written (io::Main maps them to 2 and 1).
int RunAudit(const AuditOptions& opt, const io::StreamOptions& stream);

}  // namespace vstar::eval
