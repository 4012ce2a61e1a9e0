// vs-policy: answers each record's video with the Qwen2.5-VL policy, prompted from a template file
// filled with the record's fields; adds "policy" (response, token counts, timings).
#include <CLI/CLI.hpp>

#include "io/cli.hpp"
#include "io/log.hpp"
#include "io/stream.hpp"
#include "policy/engine.hpp"

int main(int argc, char** argv) {
  using namespace vstar;
  CLI::App app{"Generate a policy response for each record's frames (Qwen2.5-VL, LibTorch)"};
  io::SetupApp(app, "vs-policy");
  io::StreamOptions stream;
  stream.Register(app);
  policy::PolicyOptions opt;
  opt.Register(app);
  VSTAR_PARSE(app, argc, argv);

  std::unique_ptr<policy::PolicyEngine> engine;
  std::unique_ptr<policy::TemplatePolicy> runner;
  try {
    auto prompt = policy::PromptTemplate::Load(opt.template_file);
    engine = policy::PolicyEngine::Load(opt, policy::ResolveDevice(stream.device));
    runner = std::make_unique<policy::TemplatePolicy>(*engine, std::move(prompt));
  } catch (const std::exception& e) {
    log::Error(e.what());
    return io::kExitFatal;
  }
  return io::RunStream(stream, "vs-policy", opt.batch,
                       [&](std::span<io::Record*> batch) { runner->Run(batch); });
}
