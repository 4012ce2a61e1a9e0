// Reading the policy's text: turn-1 decisions, the answer under every extraction rule, the mapping
// onto a candidate list and solution labels. Regexes on hostile text: run with -timeout=2, so
// catastrophic backtracking is reported as a timeout.
#include <string>
#include <vector>

#include "fuzz.hpp"
#include "recog/classlist.hpp"
#include "recog/parse.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vstar::recog;
  static const ClassList candidates = ParseClassList(
      "Push Up: arms bend and straighten\nJumping Jack\nSit Up\tthe torso curls up\n", "fuzz");
  auto fields = vstar::fuzz::Fields(data, size, 2);
  const std::string& tag = fields[0];
  const std::string& text = fields[1];
  const std::vector<std::string> tags = {"pose_estimation", "person_detection", tag};
  for (const Decision& d : ParseDecisions(text, tags)) vstar::fuzz::Check(d.found || !d.yes);
  (void)AnyYes(text, tags);
  for (AnswerRule rule : {AnswerRule::kTrain, AnswerRule::kEval, AnswerRule::kScore, AnswerRule::kClean}) {
    Answer a = ExtractAnswer(text, rule);
    Mapped m = MapAnswer(a.text, candidates);
    vstar::fuzz::Check(!m.index || *m.index < candidates.size());
  }
  (void)SolutionLabel(text);
  return 0;
}
