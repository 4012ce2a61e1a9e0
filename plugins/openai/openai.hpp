#pragma once
// The `openai` plugin's tools: action explanation, video description and teacher chains through any
// OpenAI-compatible chat endpoint (vs-serve of a local checkpoint included), reached through the
// host's chat client (plugin::Host::OpenChat: retries, cache, concurrency, the API key read from the
// environment and never logged). The prompts are our own wording; a teacher's prompt is vs-decompose's.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <vstar/plugin.h>

namespace vstar::openai {

using Json = nlohmann::json;

// The request asking for one class's body-part definition.
Json ExplainRequest(const std::string& name, const std::string& description, int max_tokens,
                    double temperature);
// The request asking for a description of a clip from frames given as data URLs (in time order).
Json DescribeRequest(const std::vector<std::string>& frame_urls, int max_tokens, double temperature);
// Tidies a model answer: trims, drops wrapping quotes, folds line breaks into spaces.
std::string CleanAnswer(const std::string& text);

std::vector<plugin::OptionSpec> OpenAIOptionSpecs(const plugin::Host& host);

// A teacher request as a chat-completions body: text items as text parts, images and video frames as
// JPEG data URLs (a video as its frames in time order, at most `max_frames` evenly spread, 0 = all),
// the request's sampling and seed.
Json TeachRequestBody(const plugin::Host& host, const plugin::TeachRequest& request, int max_side, int quality,
                      int max_frames);

class OpenAIExplainer : public plugin::Explainer {
 public:
  explicit OpenAIExplainer(const plugin::Config& config);
  plugin::Info info() const override;
  std::vector<plugin::Text> Explain(const std::vector<std::string>& class_names) override;

 private:
  const plugin::Host* host_;
  std::unique_ptr<plugin::ChatClient> chat_;
  int max_tokens_;
  double temperature_;
};

class OpenAIDescriber : public plugin::Describer {
 public:
  explicit OpenAIDescriber(const plugin::Config& config);
  plugin::Info info() const override;
  plugin::Text Describe(const std::string& video_id, const std::vector<plugin::Image>& frames) override;

 private:
  const plugin::Host* host_;
  std::unique_ptr<plugin::ChatClient> chat_;
  int max_tokens_;
  double temperature_;
  int max_side_;
  int quality_;
};

class OpenAITeacher : public plugin::Teacher {
 public:
  explicit OpenAITeacher(const plugin::Config& config);
  plugin::Info info() const override;
  std::vector<plugin::TeachReply> Teach(const std::vector<plugin::TeachRequest>& requests) override;

 private:
  const plugin::Host* host_;
  std::unique_ptr<plugin::ChatClient> chat_;
  int max_side_;
  int quality_;
  int max_frames_;
};

// The plugin factory: explain, describe or teacher per Config::kind.
std::unique_ptr<plugin::Tool> CreateOpenAITool(const plugin::Config& config);

}  // namespace vstar::openai
