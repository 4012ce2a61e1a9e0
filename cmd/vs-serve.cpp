// vs-serve: the policy engine behind an OpenAI-compatible HTTP API (man vs-serve). The server lives in
// lib/net; this file adapts its parsed requests to policy::PolicyEngine conversations.
#include <filesystem>
#include <fstream>

#include <CLI/CLI.hpp>

#include "io/cache.hpp"
#include "io/cli.hpp"
#include "io/log.hpp"
#include "net/server.hpp"
#include "policy/engine.hpp"

namespace {

using namespace vstar;

class PolicyBackend : public net::ChatBackend {
 public:
  PolicyBackend(const policy::PolicyEngine& engine, std::string id) : engine_(engine), id_(std::move(id)) {}
  std::string ModelId() const override { return id_; }

  nlohmann::json Settings() const override {
    const auto& o = engine_.options();
    return {{"max_new_tokens", o.max_new_tokens}, {"temperature", o.temperature}, {"top_p", o.top_p},
            {"top_k", o.top_k}, {"repetition_penalty", o.repetition_penalty}, {"seed", o.seed},
            {"dtype", o.dtype}, {"video_max_pixels", o.video_max_pixels}};
  }

  std::vector<net::ChatReply> Complete(const std::vector<net::ChatRequest>& requests) override {
    std::vector<policy::Conversation> convs;
    for (const auto& r : requests) convs.push_back(ToConversation(r));
    auto responses = engine_.Respond(convs);
    std::vector<net::ChatReply> out;
    for (const auto& res : responses)
      out.push_back({res.text, res.finish_reason, res.prompt_tokens, static_cast<int64_t>(res.tokens.size())});
    return out;
  }

 private:
  // Frames go through the engine's own loader (PolicyEngine::VideoFromFrames, as for vs-policy), so
  // they are stored once in the content-addressed cache.
  policy::Conversation ToConversation(const net::ChatRequest& r) const {
    policy::Conversation c;
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
          c.videos.push_back(engine_.VideoFromFrames({{"paths", paths}, {"sample_fps", part.fps}}));
        } catch (const std::exception& e) {
          throw net::RequestError(400, std::string("cannot use the frames: ") + e.what());
        }
        items.push_back(model::ChatItem::Video());
      }
      c.messages.push_back(model::ChatMessage::List(turn.role, std::move(items)));
    }
    return c;
  }

  const policy::PolicyEngine& engine_;
  std::string id_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Serve the Qwen2.5-VL policy over an OpenAI-compatible HTTP API"};
  io::SetupApp(app, "vs-serve");
  policy::PolicyOptions policy_opt;
  policy_opt.Register(app);
  app.remove_option(app.get_option("--template"));  // requests carry their own prompts
  app.remove_option(app.get_option("--batch"));     // --max-batch batches concurrent requests
  net::ServeOptions serve_opt;
  serve_opt.Register(app);
  std::string device = "auto", log_level = "info";
  app.add_option("--device", device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  app.add_option("--log-level", log_level, "debug, info, warn, error or quiet (stderr)")
      ->check(CLI::IsMember({"debug", "info", "warn", "error", "quiet"}))
      ->capture_default_str();
  VSTAR_PARSE(app, argc, argv);
  log::SetLevel(log::ParseLevel(log_level));

  std::unique_ptr<policy::PolicyEngine> engine;
  try {
    engine = policy::PolicyEngine::Load(policy_opt, policy::ResolveDevice(device));
  } catch (const std::exception& e) {
    log::Error(e.what());
    return 1;
  }
  std::string id = serve_opt.model_id;
  if (id.empty()) id = std::filesystem::path(policy_opt.model_dir).lexically_normal().filename().string();
  if (id.empty()) id = std::filesystem::path(policy_opt.model_dir).lexically_normal().parent_path().filename().string();
  PolicyBackend backend(*engine, id);
  return net::RunServer(serve_opt, backend);
}
