#include "openai.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace vstar::openai {
namespace {

constexpr const char* kVersion = "1.0";

const plugin::Host* NeedHost(const plugin::Config& config) {
  if (!config.host)
    throw plugin::Error("openai: the host offers no chat client (plugin::Config::host is null)");
  return config.host;
}

std::unique_ptr<plugin::ChatClient> OpenChat(const plugin::Config& config) {
  try {
    return NeedHost(config)->OpenChat(config);
  } catch (const std::exception& e) {
    throw plugin::Error(std::string("openai: ") + e.what());
  }
}

// One chat result as a Text (subject already set).
void Fill(plugin::Text& t, const plugin::ChatResult& r) {
  if (!r.ok) {
    t.error = r.error;
    return;
  }
  t.text = CleanAnswer(r.content);
  t.found = !t.text.empty();
  if (!t.found) t.error = "the endpoint answered with empty text";
  t.source = "openai:" + r.model + (r.cached ? " (cached)" : "");
}

}  // namespace

Json ExplainRequest(const std::string& name, const std::string& description, int max_tokens,
                    double temperature) {
  std::string ask =
      "Define the action \"" + name + "\" only by how the body moves while doing it." +
      (description.empty() ? "" : " Context: " + description + ".") +
      " Name two to four moving body parts, each picked from: head, shoulders, arms, hands, torso, hips, "
      "legs, feet. Write one line of the form 'Part: movement, Part: movement', at most five words per "
      "movement and no other text.";
  return Json{{"messages",
               Json::array({Json{{"role", "system"},
                                 {"content", "You write short, literal definitions of human actions "
                                             "for a video action recogniser."}},
                            Json{{"role", "user"}, {"content", ask}}})},
              {"max_tokens", max_tokens},
              {"temperature", temperature}};
}

Json DescribeRequest(const std::vector<std::string>& frame_urls, int max_tokens, double temperature) {
  Json content = Json::array();
  for (const auto& url : frame_urls) content.push_back({{"type", "image_url"}, {"image_url", {{"url", url}}}});
  content.push_back(
      {{"type", "text"},
       {"text", "The images are " + std::to_string(frame_urls.size()) +
                    " frames spread evenly over one video clip, in time order. In at most three sentences, "
                    "say what the person does: which body parts move, in which direction, how far and how "
                    "fast; how the pose and position change from the first frame to the last; and the "
                    "setting. Answer with the description only."}});
  return Json{{"messages", Json::array({Json{{"role", "user"}, {"content", content}}})},
              {"max_tokens", max_tokens},
              {"temperature", temperature}};
}

std::string CleanAnswer(const std::string& text) {
  std::string s;
  for (char c : text) s += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  std::string folded;
  for (char c : s)
    if (!(c == ' ' && !folded.empty() && folded.back() == ' ')) folded += c;
  folded = plugin::Trim(folded);
  if (folded.size() >= 2 && ((folded.front() == '"' && folded.back() == '"') ||
                             (folded.front() == '\'' && folded.back() == '\'')))
    folded = plugin::Trim(folded.substr(1, folded.size() - 2));
  return folded;
}

std::vector<plugin::OptionSpec> OpenAIOptionSpecs(const plugin::Host& host) {
  std::vector<plugin::OptionSpec> specs = host.ChatOptions();
  specs.push_back({"max_tokens", "longest answer in tokens", "200 (explain) / 300 (describe)"});
  specs.push_back({"temperature", "sampling temperature", "0"});
  specs.push_back({"max_side", "describe: longer frame side sent, pixels", "768"});
  specs.push_back({"jpeg_quality", "describe: JPEG quality of frames sent", "85"});
  return specs;
}

OpenAIExplainer::OpenAIExplainer(const plugin::Config& config)
    : host_(NeedHost(config)),
      chat_(OpenChat(config)),
      max_tokens_(static_cast<int>(plugin::IntegerOption(config, "openai", "max_tokens", 200, 1, 1 << 20))),
      temperature_(plugin::NumberOption(config, "openai", "temperature", 0, 0)) {}

plugin::Info OpenAIExplainer::info() const {
  return {"openai", plugin::Kind::kExplain, kVersion,
          "class explanations in body-part form from an OpenAI-compatible chat endpoint",
          OpenAIOptionSpecs(*host_)};
}

std::vector<plugin::Text> OpenAIExplainer::Explain(const std::vector<std::string>& class_names) {
  std::vector<std::string> bodies;
  std::vector<plugin::Text> out(class_names.size());
  for (size_t i = 0; i < class_names.size(); ++i) {
    auto [name, description] = plugin::SplitClassEntry(class_names[i]);
    out[i].subject = name;
    bodies.push_back(ExplainRequest(name, description, max_tokens_, temperature_).dump());
  }
  auto results = chat_->Complete(bodies);
  if (results.size() != bodies.size())
    throw plugin::Error("openai: the host's chat client returned " + std::to_string(results.size()) +
                        " results for " + std::to_string(bodies.size()) + " requests");
  for (size_t i = 0; i < results.size(); ++i) Fill(out[i], results[i]);
  return out;
}

OpenAIDescriber::OpenAIDescriber(const plugin::Config& config)
    : host_(NeedHost(config)),
      chat_(OpenChat(config)),
      max_tokens_(static_cast<int>(plugin::IntegerOption(config, "openai", "max_tokens", 300, 1, 1 << 20))),
      temperature_(plugin::NumberOption(config, "openai", "temperature", 0, 0)),
      max_side_(static_cast<int>(plugin::IntegerOption(config, "openai", "max_side", 768, 0, 1 << 16))),
      quality_(static_cast<int>(plugin::IntegerOption(config, "openai", "jpeg_quality", 85, 1, 100))) {}

plugin::Info OpenAIDescriber::info() const {
  return {"openai", plugin::Kind::kDescribe, kVersion,
          "video descriptions from frames through an OpenAI-compatible vision chat endpoint",
          OpenAIOptionSpecs(*host_)};
}

plugin::Text OpenAIDescriber::Describe(const std::string& video_id, const std::vector<plugin::Image>& frames) {
  if (frames.empty()) throw plugin::Error("openai: no frames to describe for " + video_id);
  std::vector<std::string> urls;
  for (const auto& f : frames) urls.push_back(host_->JpegDataUrl(f, max_side_, quality_));
  auto results = chat_->Complete({DescribeRequest(urls, max_tokens_, temperature_).dump()});
  if (results.size() != 1) throw plugin::Error("openai: the host's chat client returned no result");
  plugin::Text t;
  t.subject = video_id;
  Fill(t, results[0]);
  return t;
}

std::unique_ptr<plugin::Tool> CreateOpenAITool(const plugin::Config& config) {
  switch (config.kind) {
    case plugin::Kind::kExplain: return std::make_unique<OpenAIExplainer>(config);
    case plugin::Kind::kDescribe: return std::make_unique<OpenAIDescriber>(config);
    default:
      throw plugin::Error(std::string("openai: serves explain and describe, not ") +
                          plugin::KindName(config.kind));
  }
}

}  // namespace vstar::openai
