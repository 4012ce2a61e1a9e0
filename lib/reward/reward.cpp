#include "reward/reward.hpp"

#include <algorithm>
#include <random>
#include <set>
#include <stdexcept>

#include "recog/regex.hpp"
#include "recog/text.hpp"

namespace vstar::reward {

using recog::kDotAll;
using recog::kIgnoreCase;
using recog::Regex;
using recog::RegexEscape;

nlohmann::ordered_json Components::ToJson() const {
  nlohmann::ordered_json j;
  j["acc"] = acc;
  j["format"] = format;
  j["tool"] = tool;
  j["sub"] = sub;
  j["temporal"] = temporal;
  j["length"] = length;
  j["total"] = total;
  j["answer"] = answer;
  if (!mapped.empty()) j["mapped"] = mapped;
  j["sub_motions"] = sub_motions;
  if (!error.empty()) j["error"] = error;
  return j;
}

namespace {

double Weighted(const std::vector<std::string>& parts, const std::string& text) {
  size_t n = parts.size();
  if (n == 0) return 0.0;
  double denom = static_cast<double>(n) * static_cast<double>(n + 1) / 2.0;
  double score = 0;
  for (size_t k = 1; k <= n; ++k)
    if (text.find(recog::Lower(parts[k - 1])) != std::string::npos)
      score += static_cast<double>(n - k + 1) / denom;
  return score;
}

}  // namespace

// ---------------------------------------------------------------- official

double OfficialSubMotion(const std::string& completion, const std::string& answer, const OfficialConfig& cfg,
                         std::vector<std::string>* parts_out) {
  if (cfg.section1_title.empty() || cfg.section3_title.empty())
    throw std::invalid_argument("official reward: section titles are not set (give --templates)");
  const auto s1 =
      Regex::Cached("\\[1\\]\\s*" + RegexEscape(cfg.section1_title) + ":\\s*(.*?)(?=\\[2\\]|$)",
                    kDotAll | kIgnoreCase);
  auto m1 = s1->Search(completion);
  if (!m1) return 0.0;
  static const Regex name("-\\s*([A-Za-z][A-Za-z ]*?):");
  std::vector<std::string> parts;
  std::set<std::string> seen;
  for (const auto& m : name.FindAll(m1->group(1)))
    if (seen.insert(m.group(1)).second) parts.push_back(m.group(1));
  if (parts_out) *parts_out = parts;
  if (parts.empty()) return 0.0;
  const auto s3 =
      Regex::Cached("\\[3\\]\\s*" + RegexEscape(cfg.section3_title) + ":\\s*(.*?)(?=\\[4\\]|$)",
                    kDotAll | kIgnoreCase);
  auto m3 = s3->Search(completion);
  if (!m3) return 0.0;
  const auto cand = Regex::Cached(
      "-\\s*" + RegexEscape(answer) + "\\s*:\\s*(.*?)(?=(?:\\s+-\\s*[A-Za-z][A-Za-z ]*:\\s)|$)",
      kIgnoreCase | kDotAll);
  auto mc = cand->Search(m3->group(1));
  if (!mc) return 0.0;
  return Weighted(parts, recog::Lower(recog::Strip(mc->group(1))));
}

double OfficialFormat(const std::string& completion) {
  static const Regex re("<think>.*?</think>\\s*<answer>.*?</answer>", kDotAll);
  return re.FullMatch(completion) ? 1.0 : 0.0;
}

Components Official(const std::string& completion, const std::string& solution, const std::string& turn1,
                    const std::string& problem_type, const OfficialConfig& cfg) {
  Components c;
  c.format = OfficialFormat(completion);
  c.answer = recog::ExtractAnswer(completion, recog::AnswerRule::kTrain).text;
  if (problem_type == "action-detection") {
    try {
      std::string gt = recog::ExtractAnswer(solution, recog::AnswerRule::kTrain).text;
      c.acc = recog::NormalizeTrain(gt) == recog::NormalizeTrain(c.answer) ? 1.0 : 0.0;
      c.sub = OfficialSubMotion(completion, gt, cfg, &c.sub_motions);
      c.tool = c.acc > 0 && recog::AnyYes(turn1, cfg.tool_tags) ? 1.0 : 0.0;
    } catch (const std::exception& e) {  // the authors' try/except: the whole column becomes 0
      c.acc = c.sub = c.tool = 0;
      c.error = e.what();
    }
  }
  c.total = c.column0() + c.format;
  return c;
}

GroupResult OfficialGroup(std::vector<Components>& ordered, const std::vector<Components>& shuffled,
                          const std::vector<int>& tokens, const GroupConfig& cfg) {
  GroupResult r;
  std::vector<double> col0;
  for (const auto& c : ordered) col0.push_back(c.column0());
  if (cfg.temporal && !shuffled.empty() && !ordered.empty()) {
    double mo = 0, ms = 0;
    for (double v : col0) mo += v;
    for (const auto& c : shuffled) ms += c.column0();
    mo /= static_cast<double>(ordered.size());
    ms /= static_cast<double>(shuffled.size());
    r.temporal_applied = mo >= cfg.temporal_ratio * ms;
  }
  size_t passing = 0;
  for (double v : col0) passing += v > cfg.threshold;
  r.length_applied = cfg.length && passing > 1;
  for (size_t i = 0; i < ordered.size(); ++i) {
    Components& c = ordered[i];
    c.temporal = r.temporal_applied && col0[i] > cfg.threshold ? cfg.temporal_bonus : 0.0;
    int t = i < tokens.size() ? tokens[i] : -1;
    c.length = r.length_applied && col0[i] > cfg.threshold && t >= cfg.min_tokens && t <= cfg.max_tokens
                   ? cfg.length_bonus
                   : 0.0;
    c.total = c.column0() + c.temporal + c.format + c.length;
  }
  return r;
}

std::vector<size_t> ShuffledOrder(size_t n, uint64_t seed) {
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(seed);
  for (size_t i = n; i > 1; --i) {
    std::uniform_int_distribution<size_t> pick(0, i - 1);
    std::swap(order[i - 1], order[pick(rng)]);
  }
  return order;
}

// ---------------------------------------------------------------- paper

int ToolsUsed(const std::string& turn1, const std::vector<std::string>& tags) {
  int k = 0;
  for (const auto& d : recog::ParseDecisions(turn1, tags)) k += d.yes;
  return k;
}

double PaperTool(int used, int available, double cost) {
  if (used <= 0 || available <= 0) return 0.0;
  if (available == 1) return 1.0;
  return 1.0 - cost * static_cast<double>(used - 1) / static_cast<double>(available - 1);
}

namespace {

// Text of section [k] inside the think block: after the "[k]" marker and its title (up to the first
// ':' on the marker's line), up to the next "[k+1]" marker, "</think>" or the end.
std::optional<std::string> Section(const std::string& completion, int k) {
  std::string marker = "[" + std::to_string(k) + "]";
  size_t at = completion.find(marker);
  if (at == std::string::npos) return std::nullopt;
  size_t body = at + marker.size();
  size_t eol = completion.find('\n', body);
  size_t colon = completion.find(':', body);
  if (colon != std::string::npos && (eol == std::string::npos || colon < eol)) body = colon + 1;
  size_t end = completion.size();
  for (std::string stop : {"[" + std::to_string(k + 1) + "]", std::string("</think>")}) {
    size_t s = completion.find(stop, body);
    if (s != std::string::npos) end = std::min(end, s);
  }
  return completion.substr(body, end - body);
}

}  // namespace

double PaperSubMotion(const std::string& completion, const std::string& predicted,
                      std::vector<std::string>* parts_out) {
  auto s1 = Section(completion, 1);
  if (!s1) return 0.0;
  // "- <Body part>: ..." bullets; names of letters, spaces, hyphens and apostrophes (any script).
  static const Regex bullet("(?m)^\\s*[-*•]\\s*\\**\\s*([\\p{L}][\\p{L}\\p{M} '\\-]*?)\\s*\\**\\s*:");
  std::vector<std::string> parts;
  std::set<std::string> seen;
  for (const auto& m : bullet.FindAll(*s1)) {
    std::string name = recog::Strip(m.group(1));
    if (seen.insert(recog::Lower(name)).second) parts.push_back(name);
  }
  if (parts_out) *parts_out = parts;
  if (parts.empty() || recog::LabelKey(predicted).empty()) return 0.0;
  auto s3 = Section(completion, 3);
  if (!s3) return 0.0;
  // Entries of [3]: a bullet line "- <name>: text" and its continuation lines up to the next bullet.
  static const Regex entry("(?m)^\\s*[-*•]\\s*\\**\\s*([^:\\n]+?)\\s*\\**\\s*:(.*)$");
  auto lines = recog::SplitLines(*s3);
  std::string want = recog::LabelKey(predicted), text;
  bool in = false;
  for (const auto& line : lines) {
    if (auto m = entry.Search(line)) {
      if (in) break;  // the next entry ends the predicted candidate's text
      std::string head = m->group(1);
      // "[Candidate]" style brackets are tolerated around the name.
      in = recog::LabelKey(head) == want;
      if (in) text = m->group(2);
    } else if (in) {
      text += "\n" + line;
    }
  }
  if (!in) return 0.0;
  return Weighted(parts, recog::Lower(text));
}

double PaperFormat(const std::string& completion) {
  static const Regex shape("\\s*<think>(.*?)</think>\\s*<answer>.*?</answer>\\s*", kDotAll);
  if (!shape.FullMatch(completion)) return 0.0;
  const std::string think = shape.Search(completion)->group(1);
  size_t a = think.find("[1]"), b = think.find("[2]"), c = think.find("[3]");
  bool ordered = a != std::string::npos && b != std::string::npos && c != std::string::npos && a < b && b < c;
  return ordered ? 1.0 : 0.0;
}

Components Paper(const std::string& completion, const std::string& label, const recog::ClassList* candidates,
                 const std::string& turn1, const PaperConfig& cfg) {
  Components c;
  c.answer = recog::ExtractAnswer(completion, cfg.rule).text;
  std::string predicted;
  if (candidates) {
    auto m = recog::MapAnswer(c.answer, *candidates);
    if (m.index) predicted = m.name;
    auto gt = candidates->Find(label);
    c.acc = m.index && gt && *m.index == *gt ? 1.0 : 0.0;
  } else {
    predicted = c.answer;
    c.acc = !recog::LabelKey(c.answer).empty() && recog::LabelKey(c.answer) == recog::LabelKey(label) ? 1.0 : 0.0;
  }
  c.mapped = predicted;
  c.format = PaperFormat(completion);
  // Both gated terms are computed for the report; only a correct answer collects them.
  double sub = PaperSubMotion(completion, predicted, &c.sub_motions);
  double tool = PaperTool(ToolsUsed(turn1, cfg.tool_tags), static_cast<int>(cfg.tool_tags.size()), cfg.tool_cost);
  c.sub = c.acc > 0 && cfg.gated_terms ? sub : 0.0;
  c.tool = c.acc > 0 && cfg.gated_terms ? tool : 0.0;
  c.total = c.acc + c.format + c.tool + c.sub;
  return c;
}

}  // namespace vstar::reward
