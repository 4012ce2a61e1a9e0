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

Json TeachRequestBody(const plugin::Host& host, const plugin::TeachRequest& request, int max_side, int quality,
                      int max_frames) {
  auto image = [&](const std::string& path) {
    return Json{{"type", "image_url"}, {"image_url", {{"url", host.JpegFileDataUrl(path, max_side, quality)}}}};
  };
  Json messages = Json::array();
  for (const auto& m : request.messages) {
    Json content = Json::array();
    for (const auto& item : m.content) {
      switch (item.type) {
        case plugin::ContentItem::Type::kText: content.push_back({{"type", "text"}, {"text", item.text}}); break;
        case plugin::ContentItem::Type::kImage:
          if (item.frames.empty()) throw plugin::Error("openai: an image item of " + request.id + " has no file");
          content.push_back(image(item.frames.front()));
          break;
        case plugin::ContentItem::Type::kVideo: {
          // Chat-completions endpoints take images, not videos: the frames go in time order, evenly
          // thinned to max_frames (index i*n/k, the first frame always kept).
          const size_t n = item.frames.size();
          const size_t k = max_frames > 0 ? std::min(n, static_cast<size_t>(max_frames)) : n;
          for (size_t i = 0; i < k; ++i) content.push_back(image(item.frames[i * n / k]));
          break;
        }
      }
    }
    // Assistant turns and text-only messages as plain strings, which every endpoint accepts.
    bool text_only = std::all_of(m.content.begin(), m.content.end(),
                                 [](const auto& c) { return c.type == plugin::ContentItem::Type::kText; });
    if (text_only) {
      std::string text;
      for (const auto& c : m.content) text += c.text;
      messages.push_back({{"role", m.role}, {"content", text}});
    } else {
      messages.push_back({{"role", m.role}, {"content", content}});
    }
  }
  return Json{{"messages", messages},
              {"max_tokens", request.max_tokens},
              {"temperature", request.temperature},
              {"top_p", request.top_p},
              {"seed", request.seed}};
}

OpenAITeacher::OpenAITeacher(const plugin::Config& config)
    : host_(NeedHost(config)),
      chat_(OpenChat(config)),
      max_side_(static_cast<int>(plugin::IntegerOption(config, "openai", "max_side", 768, 0, 1 << 16))),
      quality_(static_cast<int>(plugin::IntegerOption(config, "openai", "jpeg_quality", 85, 1, 100))),
      max_frames_(static_cast<int>(plugin::IntegerOption(config, "openai", "max_frames", 16, 0, 1 << 16))) {}

plugin::Info OpenAITeacher::info() const {
  std::vector<plugin::OptionSpec> specs = host_->ChatOptions();
  specs.push_back({"max_side", "longer frame side sent, pixels", "768"});
  specs.push_back({"jpeg_quality", "JPEG quality of frames sent", "85"});
  specs.push_back({"max_frames", "most frames sent per video, evenly spread (0 = all)", "16"});
  return {"openai", plugin::Kind::kTeacher, kVersion,
          "teacher chains from an OpenAI-compatible vision chat endpoint (sampling and seed per request)",
          specs};
}

std::vector<plugin::TeachReply> OpenAITeacher::Teach(const std::vector<plugin::TeachRequest>& requests) {
  std::vector<plugin::TeachReply> out(requests.size());
  std::vector<std::string> bodies;
  std::vector<size_t> sent;  // index into `requests` of each body
  for (size_t i = 0; i < requests.size(); ++i) {
    try {
      bodies.push_back(TeachRequestBody(*host_, requests[i], max_side_, quality_, max_frames_).dump());
      sent.push_back(i);
    } catch (const std::exception& e) {
      out[i].error = e.what();  // an unreadable frame fails its own record only
    }
  }
  if (bodies.empty()) return out;
  auto results = chat_->Complete(bodies);
  if (results.size() != bodies.size())
    throw plugin::Error("openai: the host's chat client returned " + std::to_string(results.size()) +
                        " results for " + std::to_string(bodies.size()) + " requests");
  for (size_t k = 0; k < results.size(); ++k) {
    auto& reply = out[sent[k]];
    const auto& r = results[k];
    if (!r.ok) {
      reply.error = r.error;
      continue;
    }
    reply.text = r.content;
    reply.source = "openai:" + r.model + (r.cached ? " (cached)" : "");
    if (plugin::Trim(r.content).empty()) reply.error = "the endpoint answered with empty text";
  }
  return out;
}

std::unique_ptr<plugin::Tool> CreateOpenAITool(const plugin::Config& config) {
  switch (config.kind) {
    case plugin::Kind::kExplain: return std::make_unique<OpenAIExplainer>(config);
    case plugin::Kind::kDescribe: return std::make_unique<OpenAIDescriber>(config);
    case plugin::Kind::kTeacher: return std::make_unique<OpenAITeacher>(config);
    default:
      throw plugin::Error(std::string("openai: serves explain, describe and teacher, not ") +
                          plugin::KindName(config.kind));
  }
}

}  // namespace vstar::openai
