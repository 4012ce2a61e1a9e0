// vs-policy: answers each record's video with the Qwen2.5-VL policy. By default the two-turn
// tool-augmented policy (profile clean; --profile picks another): turn 1 chooses tools, the chosen
// tools run, turn 2 answers from the candidate list. With --template, one turn prompted from a
// template file filled with the record's fields. Adds "policy" (see vs-policy(1)).
#include <CLI/CLI.hpp>

#include "io/cli.hpp"
#include "io/main.hpp"
#include "io/stream.hpp"
#include "model/heap.hpp"
#include "policy/engine.hpp"
#include "policy/two_turn.hpp"

int main(int argc, char** argv) {
  using namespace vstar;
  CLI::App app{"Generate a policy response for each record's frames (Qwen2.5-VL, LibTorch)"};
  io::SetupApp(app, "vs-policy");
  io::StreamOptions stream;
  stream.Register(app);
  policy::PolicyOptions opt;
  opt.Register(app);
  policy::TwoTurnOptions two;
  two.Register(app);
  // --template (one turn) or the two-turn profile, never both.
  app.get_option("--template")->required(false)->excludes(app.get_option("--profile"));
  return io::Main(app, argc, argv, [&] {
    model::RetainFreedMemory();
    std::unique_ptr<policy::PolicyEngine> engine;
    std::unique_ptr<policy::TemplatePolicy> runner;
    std::unique_ptr<policy::EngineResponder> responder;
    std::unique_ptr<tools::ToolRunner> tools;
    std::unique_ptr<policy::TwoTurnPolicy> two_turn;
    if (opt.template_file.empty()) {
      auto profile = two.profile.Load();
      auto candidates = policy::LoadCandidates(two.candidates);
      auto mode = recog::ParseToolMode(two.tools);
      engine = policy::PolicyEngine::Load(opt, policy::ResolveDevice(stream.device));
      // Sampling flags given on the command line override the profile's per-turn settings.
      responder = std::make_unique<policy::EngineResponder>(
          *engine, policy::PolicyOptions::GivenSampling(app));
      tools = std::make_unique<tools::ToolRunner>(two.runner, stream.device);
      two_turn = std::make_unique<policy::TwoTurnPolicy>(
          *responder, std::move(profile), std::move(candidates), mode, *tools, two.keep_prompts);
    } else {
      auto prompt = policy::PromptTemplate::Load(opt.template_file);
      engine = policy::PolicyEngine::Load(opt, policy::ResolveDevice(stream.device));
      runner = std::make_unique<policy::TemplatePolicy>(*engine, std::move(prompt));
    }
    return io::RunStream(stream, "vs-policy", opt.batch, [&](std::span<io::Record*> batch) {
      if (two_turn)
        two_turn->Run(batch);
      else
        runner->Run(batch);
    });
  });
}
