// Both reward variants' parsers on hostile completions: the input is completion, solution and turn-1
// text separated by NUL bytes. Run with -timeout=2 (their regexes must not backtrack for ever).
#include <cmath>
#include <string>

#include "fuzz.hpp"
#include "recog/classlist.hpp"
#include "reward/reward.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vstar;
  static const recog::ClassList candidates =
      recog::ParseClassList("Push Up: arms bend\nJumping Jack: arms and legs open\nSit Up\n", "fuzz");
  auto fields = fuzz::Fields(data, size, 3);
  const std::string& completion = fields[0];
  const std::string& solution = fields[1];
  const std::string& turn1 = fields[2];

  reward::OfficialConfig official;
  official.section1_title = "Sub-motion Analysis";
  official.section3_title = "Candidate Comparison";
  reward::Components o = reward::Official(completion, solution, turn1, "action-detection", official);
  fuzz::Check(std::isfinite(o.column0()) && std::isfinite(o.format));
  (void)reward::OfficialSubMotion(completion, solution, official);

  reward::PaperConfig paper;
  reward::Components p = reward::Paper(completion, solution, &candidates, turn1, paper);
  fuzz::Check(std::isfinite(p.acc + p.format + p.tool + p.sub));
  (void)reward::Paper(completion, solution, nullptr, turn1, paper);
  (void)reward::PaperSubMotion(completion, solution);
  (void)reward::PaperFormat(completion);
  return 0;
}
