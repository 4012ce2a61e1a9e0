#include "model/chat_template.hpp"

#include "io/cache.hpp"
#include "model/tokenizer.hpp"

namespace vstar::model {
namespace {

constexpr const char* kImagePad = "<|image_pad|>";
constexpr const char* kVideoPad = "<|video_pad|>";

}  // namespace

void RequireQwenChatTemplate(const Tokenizer& tokenizer) {
  const std::string& tmpl = tokenizer.chat_template();
  if (tmpl.empty()) return;
  const std::string sha = io::Sha256Hex(tmpl);
  if (sha == kQwen25VlChatTemplateSha256) return;
  throw ChatTemplateError(
      "the chat template in " + tokenizer.chat_template_file().string() +
      " is not the Qwen2.5-VL template vstar renders (sha256 " + sha + ", expected " + kQwen25VlChatTemplateSha256 +
      "): prompts would not be the ones this checkpoint expects; restore the original Qwen2.5-VL chat_template.json "
      "(or remove the changed template to use vstar's)");
}

std::string RenderChat(const std::vector<ChatMessage>& messages,
                       const ChatTemplateOptions& options) {
  std::string out;
  int64_t images = 0, videos = 0;
  for (size_t m = 0; m < messages.size(); ++m) {
    const ChatMessage& msg = messages[m];
    if (m == 0 && msg.role != "system")
      out += "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n";
    out += "<|im_start|>" + msg.role + "\n";
    if (!msg.is_list) {
      out += msg.text + "<|im_end|>\n";
      continue;
    }
    for (const ChatItem& item : msg.items) {
      switch (item.kind) {
        case ChatItem::Kind::kImage:
          ++images;
          if (options.add_vision_id) out += "Picture " + std::to_string(images) + ": ";
          out += "<|vision_start|><|image_pad|><|vision_end|>";
          break;
        case ChatItem::Kind::kVideo:
          ++videos;
          if (options.add_vision_id) out += "Video " + std::to_string(videos) + ": ";
          out += "<|vision_start|><|video_pad|><|vision_end|>";
          break;
        case ChatItem::Kind::kText:
          out += item.text;
          break;
      }
    }
    out += "<|im_end|>\n";
  }
  if (options.add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

std::vector<ChatMessage> ChatMessagesFromJson(const nlohmann::json& messages) {
  if (!messages.is_array()) throw ChatTemplateError("messages must be a JSON array");
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
      throw ChatTemplateError(where + ": needs a string 'role'");
    auto content = m.find("content");
    if (content == m.end()) throw ChatTemplateError(where + ": needs 'content'");
    std::string role = m["role"].get<std::string>();
    if (content->is_string()) {
      out.push_back(ChatMessage::Plain(role, content->get<std::string>()));
      continue;
    }
    if (!content->is_array())
      throw ChatTemplateError(where + ".content: must be a string or an array of items");
    std::vector<ChatItem> items;
    for (size_t k = 0; k < content->size(); ++k) {
      const auto& it = (*content)[k];
      if (!it.is_object())
        throw ChatTemplateError(where + ".content[" + std::to_string(k) + "]: must be an object");
      auto type = it.find("type");
      bool typed = type != it.end() && type->is_string();
      std::string t = typed ? type->get<std::string>() : "";
      // The same precedence as the template: image, then video, then text.
      if (t == "image" || it.contains("image") || it.contains("image_url")) {
        items.push_back(ChatItem::Image());
      } else if (t == "video" || it.contains("video")) {
        items.push_back(ChatItem::Video());
      } else if (it.contains("text")) {
        const auto& text = it["text"];
        if (!text.is_string())
          throw ChatTemplateError(where + ".content[" + std::to_string(k) +
                                  "].text: must be a string");
        items.push_back(ChatItem::Text(text.get<std::string>()));
      }
      // Anything else renders as nothing, as in the template.
    }
    out.push_back(ChatMessage::List(role, std::move(items)));
  }
  return out;
}

std::string ExpandVisionPads(const std::string& prompt, const std::vector<GridTHW>& image_grids,
                             const std::vector<GridTHW>& video_grids, int64_t spatial_merge_size) {
  const int64_t unit = spatial_merge_size * spatial_merge_size;
  auto count = [&](const GridTHW& g, const char* what, size_t k) {
    for (int64_t v : g)
      if (v <= 0)
        throw ChatTemplateError(std::string(what) + " grid " + std::to_string(k) +
                                " has a non-positive size");
    int64_t n = g[0] * g[1] * g[2];
    if (n % unit != 0)
      throw ChatTemplateError(std::string(what) + " grid " + std::to_string(k) + " (" +
                              std::to_string(g[0]) + "x" + std::to_string(g[1]) + "x" +
                              std::to_string(g[2]) + ") is not divisible by merge_size^2");
    return n / unit;
  };
  const std::string image_pad = kImagePad, video_pad = kVideoPad;
  std::string out;
  size_t images = 0, videos = 0, pos = 0;
  while (true) {
    size_t ip = prompt.find(image_pad, pos), vp = prompt.find(video_pad, pos);
    size_t next = std::min(ip, vp);
    if (next == std::string::npos) break;
    out.append(prompt, pos, next - pos);
    bool is_image = next == ip;
    if (is_image) {
      if (images >= image_grids.size())
        throw ChatTemplateError("the prompt has more <|image_pad|> placeholders than the " +
                                std::to_string(image_grids.size()) + " image grids given");
      int64_t n = count(image_grids[images], "image", images);
      ++images;
      for (int64_t i = 0; i < n; ++i) out += image_pad;
      pos = next + image_pad.size();
    } else {
      if (videos >= video_grids.size())
        throw ChatTemplateError("the prompt has more <|video_pad|> placeholders than the " +
                                std::to_string(video_grids.size()) + " video grids given");
      int64_t n = count(video_grids[videos], "video", videos);
      ++videos;
      for (int64_t i = 0; i < n; ++i) out += video_pad;
      pos = next + video_pad.size();
    }
  }
  out.append(prompt, pos, std::string::npos);
  if (images != image_grids.size())
    throw ChatTemplateError("the prompt has " + std::to_string(images) +
                            " <|image_pad|> placeholders but " +
                            std::to_string(image_grids.size()) + " image grids were given");
  if (videos != video_grids.size())
    throw ChatTemplateError("the prompt has " + std::to_string(videos) +
                            " <|video_pad|> placeholders but " +
                            std::to_string(video_grids.size()) + " video grids were given");
  return out;
}

}  // namespace vstar::model
