#pragma once
// Top-1 accuracy two ways, per-class accuracy, confusion matrices, base/novel harmonic mean and
// mean ± std over split files (the authors' scoring scripts; the paper's cross-dataset protocol).
//  - authors: AScripts/cresult/1.py — first <answer> tag (case-insensitive) of the prediction or
//  the
//    whole text, lower-cased without ' ', '_', '\n', '*', equal to the same of the ground truth;
//    every record counts in the denominator (errors and missing answers are wrong).
//  - strict: the answer (our last-block rule) mapped onto the candidate list by normalised exact
//  match;
//    correct iff it maps to the ground truth's candidate; unmapped/ambiguous answers are wrong and
//    counted.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "recog/classlist.hpp"
#include "recog/parse.hpp"

namespace vstar::eval {

using Json = nlohmann::ordered_json;

struct Prediction {
  std::string id;
  std::string label;    // ground truth
  std::string text;     // the policy's turn-2 text (or the authors' "predict")
  bool failed = false;  // the record carries "error": counted wrong
  std::optional<std::string>
      mapped;  // the candidate vs-policy mapped the answer onto ("" = none found)
  std::vector<std::string> candidates;  // from the record, when it has them
  // vs-policy's policy.timing: the record's share of its batch's two generation turns (turn1_s and
  // turn2_s are the batch's wall time) plus its own tools_s; absent when the record has no timing.
  std::optional<double> seconds;
};

// Reads JSONL records or a JSON array (the authors' result files). Label: "label", else the
// "solution" tag. Prediction text: "predict", the `policy` record's answer (recog::PolicyRecord:
// its answer_text, else its turn-2 text), "second_turn_output", "prediction" (first present). The
// strict metric uses the policy's own mapping (policy.mapped) when the record has one, and maps the
// answer itself when the record lacks it or the policy found none. Throws std::runtime_error on
// malformed input.
std::vector<Prediction> LoadPredictions(const std::filesystem::path& file);
std::vector<Prediction> ParsePredictions(const std::string& text, const std::string& where);

struct ClassScore {
  std::string name;
  size_t total = 0, correct = 0;
  double accuracy() const {
    return total ? static_cast<double>(correct) / static_cast<double>(total) : 0.0;
  }
};

struct FileScore {
  std::string name;   // file or group name
  std::string group;  // base | novel | split | file
  size_t total = 0;
  size_t correct_authors = 0, correct_strict = 0;
  size_t unmapped = 0, ambiguous = 0, empty = 0, failed = 0;
  bool has_candidates = false;                 // strict metrics need a candidate list
  std::vector<ClassScore> per_class;           // strict, by ground-truth candidate
  std::vector<std::string> classes;            // confusion axes (candidate order)
  std::vector<std::vector<size_t>> confusion;  // [gt][pred], last column = unmapped/ambiguous/empty
  double seconds = 0;                          // sum of the timed records' Prediction::seconds
  size_t timed = 0;  // records with a timing; "seconds_per_video" in the JSON when any
  double acc_authors() const {
    return total ? static_cast<double>(correct_authors) / static_cast<double>(total) : 0;
  }
  double acc_strict() const {
    return total ? static_cast<double>(correct_strict) / static_cast<double>(total) : 0;
  }
  Json ToJson() const;
};

// `classes` may be null: then the record's own "candidates" are used, and if it has none only the
// authors' metric is computed (strict needs a list; it is never inferred from the predictions).
FileScore Score(const std::vector<Prediction>& preds, const recog::ClassList* classes,
                const std::string& name, const std::string& group,
                recog::AnswerRule strict_rule = recog::AnswerRule::kClean);

double HarmonicMean(double base, double novel);  // 2BN/(B+N), 0 when both are 0
struct MeanStd {
  double mean = 0, std = 0;
};
MeanStd MeanAndStd(const std::vector<double>& xs, bool sample);  // sample: n-1 denominator

}  // namespace vstar::eval
