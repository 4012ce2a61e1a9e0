#pragma once
// String rules shared by prompts, parsing, rewards and scoring. Each normaliser is named after the
// code it reproduces, because the authors use three slightly different ones (Video-STAR
// oss_grpo_4subtol.py normalize, AScripts/cresult/1.py) and the published numbers depend on which.
#include <string>
#include <string_view>
#include <vector>

#include "io/text.hpp"

namespace vstar::recog {

// Python str.lower() and str.strip() on model text: the one implementation in io/text.hpp.
using io::Lower;
inline std::string Strip(std::string_view s) { return io::Trim(s); }
// Removes every occurrence of each character in `chars`.
std::string RemoveChars(std::string_view s, std::string_view chars);
std::string ReplaceAll(std::string_view s, std::string_view from, std::string_view to);
std::vector<std::string> SplitLines(std::string_view s);  // on '\n', keeps empty lines, no trailing '\r' removal

// Training reward normaliser (src/r1-v/src/open_r1/oss_grpo_4subtol.py normalize): lower, delete ' ', '_', '\n'.
std::string NormalizeTrain(std::string_view s);
// AScripts/cresult/1.py: lower, delete ' ', '_', '\n', '*'.
std::string NormalizeScore(std::string_view s);
// Our strict label key: lower-case and keep letters and digits only (spaces, '_', '-', punctuation and
// markdown vanish), so "Ride bike", "ride_bike" and "**ride-bike.**" all map to "ridebike".
std::string LabelKey(std::string_view s);

// Word tokens for leak detection: lower-case runs of letters/digits; '_', '/', '-', '.', spaces and
// every other character separate words ("kick_ball/x_kick_ball_f.avi" -> kick ball x kick ball f avi).
std::vector<std::string> Words(std::string_view s);

}  // namespace vstar::recog
