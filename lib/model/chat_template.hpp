#pragma once
// The Qwen2.5-VL processor chat template (Qwen2.5-VL-3B/7B-Instruct chat_template.json, as
// transformers' Qwen2_5_VLProcessor.apply_chat_template renders it), rendered natively, and the
// expansion of <|image_pad|>/<|video_pad|> by grid. Equal byte for byte to Jinja2 over the real file.
#include <array>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vstar::model {

struct ChatTemplateError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ChatItem {
  enum class Kind { kText, kImage, kVideo };
  Kind kind = Kind::kText;
  std::string text;  // kText only
  static ChatItem Text(std::string t) { return {Kind::kText, std::move(t)}; }
  static ChatItem Image() { return {Kind::kImage, {}}; }
  static ChatItem Video() { return {Kind::kVideo, {}}; }
};

struct ChatMessage {
  std::string role;  // "system", "user", "assistant" (any string is rendered as given)
  // When `items` is empty and `is_list` false, `text` is the string content.
  std::string text;
  std::vector<ChatItem> items;
  bool is_list = false;
  static ChatMessage Plain(std::string role, std::string text) {
    return {std::move(role), std::move(text), {}, false};
  }
  static ChatMessage List(std::string role, std::vector<ChatItem> items) {
    return {std::move(role), {}, std::move(items), true};
  }
};

struct ChatTemplateOptions {
  bool add_generation_prompt = false;
  bool add_vision_id = false;
};

// Renders the messages as the template does (default system prompt when the first message is not a
// system message; list items concatenated; vision placeholders; optional "Picture k: "/"Video k: ").
std::string RenderChat(const std::vector<ChatMessage>& messages,
                       const ChatTemplateOptions& options = {});

// HF-style messages: [{"role":..., "content": "text" | [{"type":"text","text":...},
// {"type":"image",...}, {"image":...}, {"image_url":...}, {"type":"video",...}, {"video":...}]}].
// Items that are neither images, videos nor carry "text" render as nothing (as the template does).
std::vector<ChatMessage> ChatMessagesFromJson(const nlohmann::json& messages);

class Tokenizer;

// SHA-256 of the template string RenderChat implements: the "chat_template" of Qwen2.5-VL-3B/7B-Instruct's
// chat_template.json (the same string is the 7B tokenizer_config.json's). Byte-exact: the released files
// all hold this exact string, so no whitespace normalisation is needed to accept them.
inline constexpr const char* kQwen25VlChatTemplateSha256 =
    "a0bc6f6fc7a29a80017a433e8f03a1cc1236e838a944a2d034295a60c4f2fddb";

// A checkpoint's own template (the one transformers' processor would render: Tokenizer::chat_template())
// must be the one RenderChat implements, or we would silently render something the checkpoint was not
// trained with. Throws ChatTemplateError naming the file when it differs. A checkpoint without a template
// (transformers would refuse to render it at all) takes ours.
void RequireQwenChatTemplate(const Tokenizer& tokenizer);

using GridTHW = std::array<int64_t, 3>;  // (t, h, w) in patches, as image_grid_thw rows

// Replaces the k-th <|image_pad|> with t*h*w/merge^2 copies for image_grids[k] (likewise videos).
// Throws ChatTemplateError when the number of placeholders differs from the number of grids or a
// grid is not divisible by merge^2.
std::string ExpandVisionPads(const std::string& prompt, const std::vector<GridTHW>& image_grids,
                             const std::vector<GridTHW>& video_grids, int64_t spatial_merge_size = 2);

}  // namespace vstar::model
