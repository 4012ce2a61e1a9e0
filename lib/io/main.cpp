#include "io/main.hpp"

#include <CLI/CLI.hpp>

#include "io/cli.hpp"
#include "io/log.hpp"
#include "io/stream.hpp"

namespace vstar::io {

int Main(CLI::App& app, int argc, char** argv, const std::function<int()>& body) {
  int parsed = ParseArgs(app, argc, argv);
  if (parsed >= 0) return parsed;
  try {
    return body();
  } catch (const std::invalid_argument& e) {
    log::Error(e.what());
    return kExitUsage;
  } catch (const std::exception& e) {
    log::Error(e.what());
    return kExitFatal;
  } catch (...) {
    log::Error("unknown exception");
    return kExitFatal;
  }
}

}  // namespace vstar::io
