// vs-plugins: lists the tool plugins this vstar finds (like gst-inspect): name, kind, version,
// options.
#include <iostream>

#include <CLI/CLI.hpp>

#include "io/cli.hpp"
#include "io/main.hpp"
#include "tools/plugins.hpp"

int main(int argc, char** argv) {
  using namespace vstar;
  CLI::App app{"List the tool plugins found on the plugin search path, or describe one."};
  io::SetupApp(app, "vs-plugins");
  tools::ListOptions options;
  options.Register(app);
  return io::Main(app, argc, argv, [&] { return tools::ListPlugins(options, std::cout); });
}
