#pragma once
// The `openai` plugin's tools: action explanation and video description through any
// OpenAI-compatible chat endpoint, reached through the host's chat client (plugin::Host::OpenChat:
// retries, cache, concurrency). The prompts are our own wording.
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

// The plugin factory: explain or describe per Config::kind.
std::unique_ptr<plugin::Tool> CreateOpenAITool(const plugin::Config& config);

}  // namespace vstar::openai
