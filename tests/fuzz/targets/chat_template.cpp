// The chat-template renderer: HF-style messages JSON -> ChatMessages -> the rendered prompt, then
// the vision-pad expansion with grids taken from the input's first bytes.
#include <string>
#include <vector>

#include "fuzz.hpp"
#include "model/chat_template.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vstar::model;
  if (size < 4) return 0;
  ChatTemplateOptions options;
  options.add_generation_prompt = data[0] & 1;
  options.add_vision_id = data[0] & 2;
  // Grids of up to 8x8x8 patches (t, h, w from the next bytes); spatial merge 1..3.
  GridTHW grid{1 + data[1] % 8, 1 + data[2] % 8, 1 + (data[1] >> 4) % 8};
  int64_t merge = 1 + data[3] % 3;
  auto j = nlohmann::json::parse(vstar::fuzz::Text(data + 4, size - 4), nullptr, false);
  if (j.is_discarded()) return 0;
  try {
    std::vector<ChatMessage> messages = ChatMessagesFromJson(j);
    std::string prompt = RenderChat(messages, options);
    size_t images = 0, videos = 0;
    for (auto& m : messages)
      for (auto& it : m.items) {
        images += it.kind == ChatItem::Kind::kImage;
        videos += it.kind == ChatItem::Kind::kVideo;
      }
    (void)ExpandVisionPads(prompt, std::vector<GridTHW>(images, grid),
                           std::vector<GridTHW>(videos, grid), merge);
  } catch (const ChatTemplateError&) {
  }
  return 0;
}
