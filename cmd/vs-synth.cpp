// vs-synth: renders the synthetic action world (an articulated figure in a coloured suit performing
// actions composed of sub-motions) as a dataset: videos, manifest, class lists, splits, definitions,
// and the ground-truth side file (man vs-synth).
#include <unistd.h>

#include <chrono>
#include <memory>

#include <CLI/CLI.hpp>

#include "io/cli.hpp"
#include "io/log.hpp"
#include "io/main.hpp"
#include "io/progress.hpp"
#include "io/stream.hpp"
#include "synth/world.hpp"

int main(int argc, char** argv) {
  using namespace vstar;
  CLI::App app{"Render the synthetic action world: videos, manifest, class lists, splits, definitions, ground truth"};
  io::SetupApp(app, "vs-synth");
  synth::WorldOptions opt;
  opt.Register(app);
  std::string progress = "auto", log_level = "info";
  app.add_option("--progress", progress, "Progress bar on stderr: auto (TTY only), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  app.add_option("--log-level", log_level, "debug, info, warn, error or quiet (stderr)")
      ->check(CLI::IsMember({"debug", "info", "warn", "error", "quiet"}))
      ->capture_default_str();
  return io::Main(app, argc, argv, [&] {
    log::SetLevel(log::ParseLevel(log_level));
    const bool show = progress == "always" || (progress == "auto" && isatty(STDERR_FILENO));
    std::unique_ptr<io::ProgressBar> bar;
    const auto start = std::chrono::steady_clock::now();
    auto summary = synth::Generate(opt, [&](size_t, size_t total) {
      if (!bar) bar = std::make_unique<io::ProgressBar>("vs-synth", total, show);
      bar->Tick();
    });
    if (bar) bar->Finish();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    log::Info("vs-synth: ", summary.clips, " clips of ", summary.classes, " classes (", summary.frames,
              " frames) written to ", opt.out, " in ", static_cast<int>(s * 10) / 10.0, " s");
    return static_cast<int>(io::kExitOk);
  });
}
