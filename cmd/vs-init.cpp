// vs-init: writes a freshly initialised Qwen2.5-VL checkpoint of a given architecture, with a tokenizer
// copied or trained on a corpus — the starting point of a model trained from scratch.
#include <CLI/CLI.hpp>

#include "io/cli.hpp"
#include "io/log.hpp"
#include "io/main.hpp"
#include "model/init.hpp"

int main(int argc, char** argv) {
  using namespace vstar;
  CLI::App app{"Write a randomly initialised Qwen2.5-VL checkpoint (config, weights, tokenizer)."};
  io::SetupApp(app, "vs-init");
  model::NewCheckpointOptions options;
  options.Register(app);
  return io::Main(app, argc, argv, [&] {
    const auto s = model::WriteNewCheckpoint(options);
    log::Info("wrote " + options.out + ": " + std::to_string(s.parameters) + " parameters, tokenizer " +
              (s.trained_tokenizer ? "trained" : "copied") + " (" + std::to_string(s.vocab) + " tokens, " +
              std::to_string(s.vocab_rows) + " embedding rows)");
    return 0;
  });
}
