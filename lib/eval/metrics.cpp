#include "eval/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "recog/policy_record.hpp"
#include "recog/text.hpp"

namespace vstar::eval {

namespace {

std::optional<std::string> Str(const Json& j, std::initializer_list<const char*> path) {
  const Json* cur = &j;
  for (const char* k : path) {
    if (!cur->is_object() || !cur->contains(k)) return std::nullopt;
    cur = &(*cur)[k];
  }
  if (cur->is_string()) return cur->get<std::string>();
  return std::nullopt;
}

Prediction FromJson(const Json& j, const std::string& where) {
  if (!j.is_object()) throw std::runtime_error(where + ": a record is not a JSON object");
  Prediction p;
  if (j.contains("id"))
    p.id = j["id"].is_string() ? j["id"].get<std::string>() : j["id"].dump();
  else if (j.contains("problem_id"))
    p.id = j["problem_id"].dump();
  if (auto l = Str(j, {"label"}))
    p.label = *l;
  else if (auto s = Str(j, {"solution"}))
    p.label = recog::SolutionLabel(*s);
  else
    throw std::runtime_error(where + ": record " + p.id + " has no \"label\" or \"solution\"");
  if (auto t = Str(j, {"predict"})) {
    p.text = *t;
  } else if (j.contains("policy") && j["policy"].is_object()) {
    recog::PolicyRecord policy = recog::PolicyRecord::FromJson(j["policy"]);
    p.text = policy.answer.value_or(policy.turn2.text);
    if (!policy.map_status.empty()) p.mapped = policy.mapped.value_or("");
    const Json& t = policy.timing;
    auto num = [&](const char* k) {
      return t.contains(k) && t[k].is_number() ? t[k].get<double>() : 0.0;
    };
    if (t.contains("total_s")) {
      const double batch = std::max(1.0, num("batch"));
      p.seconds = (num("turn1_s") + num("turn2_s")) / batch + num("tools_s");
    }
  } else if (auto t2 = Str(j, {"second_turn_output"})) {
    p.text = *t2;
  } else if (auto t3 = Str(j, {"prediction"})) {
    p.text = *t3;
  }
  p.failed = j.contains("error");
  if (j.contains("candidates") && j["candidates"].is_array())
    for (const auto& c : j["candidates"]) {
      if (c.is_string())
        p.candidates.push_back(c.get<std::string>());
      else if (c.is_object() && c.contains("name"))
        p.candidates.push_back(c["name"].get<std::string>());
    }
  return p;
}

}  // namespace

std::vector<Prediction> ParsePredictions(const std::string& text, const std::string& where) {
  std::vector<Prediction> out;
  size_t first = text.find_first_not_of(" \t\r\n\xEF\xBB\xBF");
  if (first != std::string::npos && text[first] == '[') {
    Json arr;
    try {
      arr = Json::parse(text);
    } catch (const std::exception& e) {
      throw std::runtime_error(where + ": not valid JSON: " + e.what());
    }
    for (size_t i = 0; i < arr.size(); ++i)
      out.push_back(FromJson(arr[i], where + ":" + std::to_string(i + 1)));
    return out;
  }
  std::istringstream in(text);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (recog::Strip(line).empty()) continue;
    Json j;
    try {
      j = Json::parse(line);
    } catch (const std::exception& e) {
      throw std::runtime_error(where + ":" + std::to_string(n) + ": not valid JSON: " + e.what());
    }
    out.push_back(FromJson(j, where + ":" + std::to_string(n)));
  }
  return out;
}

std::vector<Prediction> LoadPredictions(const std::filesystem::path& file) {
  if (file == "-") {
    std::stringstream ss;
    ss << std::cin.rdbuf();
    return ParsePredictions(ss.str(), "<stdin>");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + file.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ParsePredictions(ss.str(), file.string());
}

Json FileScore::ToJson() const {
  Json j;
  j["name"] = name;
  j["group"] = group;
  j["total"] = total;
  j["correct_authors"] = correct_authors;
  j["accuracy_authors"] = acc_authors();
  if (has_candidates) {
    j["correct_strict"] = correct_strict;
    j["accuracy_strict"] = acc_strict();
    j["unmapped"] = unmapped;
    j["ambiguous"] = ambiguous;
  } else {
    j["correct_strict"] = nullptr;
    j["accuracy_strict"] = nullptr;
  }
  j["empty"] = empty;
  j["failed"] = failed;
  Json pc = Json::array();
  for (const auto& c : per_class)
    pc.push_back(Json{
        {"class", c.name}, {"total", c.total}, {"correct", c.correct}, {"accuracy", c.accuracy()}});
  if (timed) {
    j["seconds_per_video"] = seconds / static_cast<double>(timed);
    j["timed"] = timed;
  }
  j["per_class"] = pc;
  j["classes"] = classes;
  j["confusion"] = confusion;
  return j;
}

FileScore Score(const std::vector<Prediction>& preds, const recog::ClassList* classes,
                const std::string& name, const std::string& group, recog::AnswerRule strict_rule) {
  FileScore s;
  s.name = name;
  s.group = group;
  std::unique_ptr<recog::ClassList> own;
  const recog::ClassList* cl = classes;
  if (!cl && !preds.empty() && !preds.front().candidates.empty()) {
    own = std::make_unique<recog::ClassList>();
    for (const auto& c : preds.front().candidates) own->items.push_back({c, "", ""});
    cl = own.get();
  }
  s.has_candidates = cl != nullptr;
  if (cl) {
    s.classes = cl->Names();
    s.per_class.resize(cl->size());
    for (size_t i = 0; i < cl->size(); ++i) s.per_class[i].name = cl->items[i].name;
    s.confusion.assign(cl->size(), std::vector<size_t>(cl->size() + 1, 0));
  }
  for (const auto& p : preds) {
    ++s.total;
    if (p.failed) ++s.failed;
    if (p.seconds) {
      s.seconds += *p.seconds;
      ++s.timed;
    }
    // authors' rule
    if (!p.failed) {
      std::string pred = recog::ExtractAnswer(p.text, recog::AnswerRule::kScore).text;
      std::string gt = recog::ExtractAnswer(p.label, recog::AnswerRule::kScore).text;
      if (recog::NormalizeScore(pred) == recog::NormalizeScore(gt)) ++s.correct_authors;
    }
    if (!cl) continue;
    // strict rule; a record with its own list different from the file's uses its own
    std::unique_ptr<recog::ClassList> rec_list;
    const recog::ClassList* use = cl;
    if (classes == nullptr && !p.candidates.empty() && p.candidates != preds.front().candidates) {
      rec_list = std::make_unique<recog::ClassList>();
      for (const auto& c : p.candidates) rec_list->items.push_back({c, "", ""});
      use = rec_list.get();
    }
    auto gt = cl->Find(p.label);
    if (!gt)
      throw std::runtime_error(name + ": label '" + p.label + "' of record " + p.id +
                               " is not in the candidate list");
    s.per_class[*gt].total++;
    recog::Mapped m;
    if (p.failed) {
      m.status = "empty";
    } else if (p.mapped && !p.mapped->empty()) {
      m = recog::MapAnswer(*p.mapped, *use);  // the policy's own mapping, found again in this list
    } else {
      // No mapping carried (or the policy's found none): map the answer itself.
      m = recog::MapAnswer(recog::ExtractAnswer(p.text, strict_rule).text, *use);
    }
    if (m.status == "unmapped") ++s.unmapped;
    if (m.status == "ambiguous") ++s.ambiguous;
    if (m.status == "empty" && !p.failed) ++s.empty;
    std::optional<size_t> pi = m.index && use != cl ? cl->Find(m.name) : m.index;
    if (pi && *pi == *gt) {
      ++s.correct_strict;
      s.per_class[*gt].correct++;
    }
    s.confusion[*gt][pi ? *pi : cl->size()]++;
  }
  return s;
}

double HarmonicMean(double b, double n) {
  return b + n > 0 ? 2 * b * n / (b + n) : 0.0;
}

MeanStd MeanAndStd(const std::vector<double>& xs, bool sample) {
  MeanStd r;
  if (xs.empty()) return r;
  for (double x : xs) r.mean += x;
  r.mean /= static_cast<double>(xs.size());
  double ss = 0;
  for (double x : xs) ss += (x - r.mean) * (x - r.mean);
  size_t d = sample ? xs.size() - 1 : xs.size();
  r.std = d ? std::sqrt(ss / static_cast<double>(d)) : 0.0;
  return r;
}

}  // namespace vstar::eval
