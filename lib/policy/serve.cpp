#include "policy/serve.hpp"

#include <filesystem>

#include "io/cache.hpp"

namespace vstar::policy {

Conversation ConversationFromRequest(const PolicyEngine& engine, const net::ChatRequest& r) {
  Conversation c;
  for (const auto& turn : r.messages) {
    if (!turn.is_list) {
      c.messages.push_back(model::ChatMessage::Plain(turn.role, turn.parts.empty() ? "" : turn.parts[0].text));
      continue;
    }
    std::vector<model::ChatItem> items;
    for (const auto& part : turn.parts) {
      if (!part.is_video) {
        items.push_back(model::ChatItem::Text(part.text));
        continue;
      }
      nlohmann::json paths = nlohmann::json::array();
      for (const auto& f : part.frames) {
        auto file = io::CacheDir("serve-frames", io::Sha256Hex(f.bytes)) / ("frame" + f.extension);
        if (!std::filesystem::exists(file)) {
          std::filesystem::create_directories(file.parent_path());
          io::WriteFileAtomic(file, f.bytes);
        }
        paths.push_back(file.string());
      }
      try {
        c.videos.push_back(engine.VideoFromFrames({{"paths", paths}, {"sample_fps", part.fps}}));
      } catch (const std::exception& e) {
        throw net::RequestError(400, std::string("cannot use the frames: ") + e.what());
      }
      items.push_back(model::ChatItem::Video());
    }
    c.messages.push_back(model::ChatMessage::List(turn.role, std::move(items)));
  }
  return c;
}

nlohmann::json PolicyBackend::Settings() const {
  const auto& o = engine_.options();
  return {{"max_new_tokens", o.max_new_tokens}, {"temperature", o.temperature}, {"top_p", o.top_p},
          {"top_k", o.top_k}, {"repetition_penalty", o.repetition_penalty}, {"seed", o.seed},
          {"dtype", o.dtype}, {"video_max_pixels", o.video_max_pixels}};
}

std::vector<net::ChatReply> PolicyBackend::Complete(const std::vector<net::ChatRequest>& requests) {
  std::vector<Conversation> convs;
  for (const auto& r : requests) convs.push_back(ConversationFromRequest(engine_, r));
  auto responses = engine_.Respond(convs);
  std::vector<net::ChatReply> out;
  for (const auto& res : responses)
    out.push_back({res.text, res.finish_reason, res.prompt_tokens, static_cast<int64_t>(res.tokens.size())});
  return out;
}

}  // namespace vstar::policy
