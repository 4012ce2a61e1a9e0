// vs-serve: the policy engine behind an OpenAI-compatible HTTP API (man vs-serve). The server lives
// in lib/net, the adapter from its requests to the engine in lib/policy/serve.
#include <filesystem>

#include <CLI/CLI.hpp>

#include "io/cli.hpp"
#include "io/log.hpp"
#include "io/main.hpp"
#include "model/heap.hpp"
#include "net/server.hpp"
#include "policy/engine.hpp"
#include "policy/serve.hpp"

int main(int argc, char** argv) {
  using namespace vstar;
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
  return io::Main(app, argc, argv, [&] {
    model::RetainFreedMemory();
    log::SetLevel(log::ParseLevel(log_level));
    auto engine = policy::PolicyEngine::Load(policy_opt, policy::ResolveDevice(device));
    std::string id = serve_opt.model_id;
    if (id.empty())
      id = std::filesystem::path(policy_opt.model_dir).lexically_normal().filename().string();
    if (id.empty())
      id = std::filesystem::path(policy_opt.model_dir)
               .lexically_normal()
               .parent_path()
               .filename()
               .string();
    policy::PolicyBackend backend(*engine, id);
    return net::RunServer(serve_opt, backend);
  });
}
