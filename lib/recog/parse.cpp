#include "recog/parse.hpp"

#include <stdexcept>

#include "recog/regex.hpp"
#include "recog/text.hpp"

namespace vstar::recog {

Decision ParseDecision(std::string_view text, std::string_view tag) {
  std::string t = RegexEscape(tag);
  const auto re = Regex::Cached("<" + t + ">\\s*(yes|no)\\s*</" + t + ">", kIgnoreCase);
  Decision d;
  d.tag = std::string(tag);
  if (auto m = re->Search(text)) {
    d.found = true;
    d.yes = Lower(m->group(1)) == "yes";
  }
  return d;
}

std::vector<Decision> ParseDecisions(std::string_view text, const std::vector<std::string>& tags) {
  std::vector<Decision> out;
  for (const auto& t : tags) out.push_back(ParseDecision(text, t));
  return out;
}

bool AnyYes(std::string_view text, const std::vector<std::string>& tags) {
  for (const auto& tag : tags) {
    std::string t = RegexEscape(tag);
    if (Regex::Cached("<" + t + ">\\s*yes\\s*</" + t + ">", kIgnoreCase)->Search(text)) return true;
  }
  return false;
}

AnswerRule ParseAnswerRule(std::string_view name) {
  if (name == "train") return AnswerRule::kTrain;
  if (name == "eval") return AnswerRule::kEval;
  if (name == "score") return AnswerRule::kScore;
  if (name == "clean") return AnswerRule::kClean;
  throw std::invalid_argument("unknown answer rule '" + std::string(name) + "' (train|eval|score|clean)");
}

std::string_view AnswerRuleName(AnswerRule rule) {
  switch (rule) {
    case AnswerRule::kTrain: return "train";
    case AnswerRule::kEval: return "eval";
    case AnswerRule::kScore: return "score";
    case AnswerRule::kClean: return "clean";
  }
  return "?";
}

namespace {

// Removes markdown emphasis/code marks, surrounding quotes and a trailing period from a short answer.
std::string CleanMarkup(std::string s) {
  s = Strip(s);
  for (bool changed = true; changed && !s.empty();) {
    changed = false;
    static const char* kWrap[] = {"**", "__", "*", "`", "\"", "'"};
    for (const char* w : kWrap) {
      std::string_view wv(w);
      if (s.size() >= 2 * wv.size() && s.compare(0, wv.size(), wv) == 0 &&
          s.compare(s.size() - wv.size(), wv.size(), wv) == 0) {
        s = Strip(s.substr(wv.size(), s.size() - 2 * wv.size()));
        changed = true;
      }
    }
    if (!s.empty() && (s.back() == '.' || s.back() == ';')) {
      s.pop_back();
      s = Strip(s);
      changed = true;
    }
  }
  return s;
}

}  // namespace

Answer ExtractAnswer(std::string_view completion, AnswerRule rule) {
  Answer a;
  switch (rule) {
    case AnswerRule::kTrain: {
      static const Regex nested("<answer>\\s*<answer>(.*?)</answer>\\s*</answer>", kDotAll);
      static const Regex single("<answer>\\s*(.*?)\\s*</answer>", kDotAll);
      auto m = nested.Search(completion);
      if (!m) m = single.Search(completion);
      if (m) {
        a.found = true;
        a.text = Strip(m->group(1));
      }
      return a;
    }
    case AnswerRule::kEval: {
      static const Regex first("<answer>(.*?)</answer>", kDotAll);
      if (auto m = first.Search(completion)) {
        a.found = true;
        a.text = RemoveChars(m->group(0), "\n");
      }
      return a;
    }
    case AnswerRule::kScore: {
      static const Regex first("<answer>(.*?)</answer>", kDotAll | kIgnoreCase);
      if (auto m = first.Search(completion)) {
        a.found = true;
        a.text = Strip(m->group(1));
      } else {
        a.text = Strip(completion);
      }
      return a;
    }
    case AnswerRule::kClean: {
      // The last opening tag before the last closing tag, closed by the first closing tag after it:
      // the innermost block of the final answer, so "<answer><answer>X</answer></answer>" reads X and
      // a draft answer inside <think> loses to the final one.
      static const Regex open("<\\s*answer\\s*>", kIgnoreCase);
      static const Regex close("<\\s*/\\s*answer\\s*>", kIgnoreCase);
      auto closes = close.FindAll(completion);
      if (closes.empty()) return a;
      auto opens = open.FindAll(completion.substr(0, closes.back().begin));
      if (opens.empty()) return a;
      const Match& o = opens.back();
      auto c = close.Search(completion, o.end);  // first closing tag after it: the innermost pair
      a.found = true;
      a.text = CleanMarkup(std::string(completion.substr(o.end, c->begin - o.end)));
      return a;
    }
  }
  return a;
}

Mapped MapAnswer(std::string_view answer, const ClassList& candidates) {
  Mapped m;
  if (Strip(answer).empty()) {
    m.status = "empty";
    return m;
  }
  bool ambiguous = false;
  m.index = candidates.Find(answer, &ambiguous);
  if (m.index) {
    m.name = candidates.items[*m.index].name;
    m.status = "mapped";
  } else {
    m.status = ambiguous ? "ambiguous" : "unmapped";
  }
  return m;
}

std::string SolutionLabel(std::string_view solution) {
  Answer a = ExtractAnswer(solution, AnswerRule::kTrain);
  return a.found ? a.text : Strip(solution);
}

}  // namespace vstar::recog
