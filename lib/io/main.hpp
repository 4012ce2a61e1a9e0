#pragma once
// The one main() every vs-* binary goes through: parse the flags, run the body, and map what
// escapes it to the documented exit codes (io/stream.hpp, vstar(7)).
#include <functional>
#include <stdexcept>
#include <string>

namespace CLI {
class App;
}

namespace vstar::io {

// A usage error found after parsing (an impossible combination of flags, a bad option value that
// only its consumer can check): exit code 2. The library reports such values with
// std::invalid_argument, which io::Main maps the same way; UsageError is that exception with a name
// for cmd/ code.
struct UsageError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Parses argv into `app` (--help, --version, --dump-flags, --completion and parse errors end here
// with 0 or 2), then returns `body()`. An exception leaving `body` is logged as "<app name>:
// <message>" on stderr and becomes kExitUsage (std::invalid_argument, UsageError) or kExitFatal
// (anything else).
int Main(CLI::App& app, int argc, char** argv, const std::function<int()>& body);

}  // namespace vstar::io
