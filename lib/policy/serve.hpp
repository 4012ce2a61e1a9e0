#pragma once
// The policy engine behind lib/net's OpenAI-compatible server (vs-serve): chat requests become
// PolicyEngine conversations, responses become chat replies.
#include <string>
#include <vector>

#include "net/server.hpp"
#include "policy/engine.hpp"

namespace vstar::policy {

// A request's messages as a conversation: text parts as they are, each video part's frames stored
// once in the content-addressed cache and loaded as one video by PolicyEngine::VideoFromFrames (as
// vs-policy loads a record's frames). Throws net::RequestError (400) for frames the engine cannot use.
Conversation ConversationFromRequest(const PolicyEngine& engine, const net::ChatRequest& request);

class PolicyBackend : public net::ChatBackend {
 public:
  PolicyBackend(const PolicyEngine& engine, std::string id) : engine_(engine), id_(std::move(id)) {}
  std::string ModelId() const override { return id_; }
  nlohmann::json Settings() const override;
  std::vector<net::ChatReply> Complete(const std::vector<net::ChatRequest>& requests) override;

 private:
  const PolicyEngine& engine_;
  std::string id_;
};

}  // namespace vstar::policy
