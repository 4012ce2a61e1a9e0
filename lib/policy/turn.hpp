#pragma once
// One turn of a conversation with the policy, and who answers it: torch-free, so code that builds or
// reads turns (the two-turn loop, tests with a scripted responder, later GRPO rollouts) needs no
// LibTorch headers. The engine's responder lives in policy/engine.hpp.
#include <cstdint>
#include <string>
#include <vector>

#include "io/record.hpp"
#include "model/chat_template.hpp"
#include "recog/profile.hpp"

namespace vstar::policy {

struct Response {
  std::string text;  // decoded, special tokens skipped, the stop token removed
  std::vector<int64_t> tokens;
  std::vector<float> logprobs;
  std::string finish_reason;
  int64_t prompt_tokens = 0;  // unpadded
};

// One conversation the responder answers: chat messages whose video items are filled, in order, by
// `videos` (frame-list objects as vs-decode writes them: paths + sample_fps).
struct Turn {
  std::vector<model::ChatMessage> messages;
  std::vector<io::Json> videos;
};

// Answers turns: the policy engine in vs-policy (EngineResponder), a scripted responder in tests.
class Responder {
 public:
  virtual ~Responder() = default;
  virtual std::vector<Response> Respond(const std::vector<Turn>& turns, const recog::Sampling& sampling) = 0;
};

// The user text of a turn (the text items of its last user message, joined): what tests scan for leaks.
std::string UserText(const Turn& turn);

}  // namespace vstar::policy
