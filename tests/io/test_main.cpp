#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <catch2/catch.hpp>

#include "io/cli.hpp"
#include "io/main.hpp"
#include "io/stream.hpp"

using namespace vstar;

namespace {

// Runs io::Main over `args` for an app with one --n option, the body being `body`.
int RunMain(std::vector<std::string> args, const std::function<int()>& body, bool* ran = nullptr) {
  CLI::App app{"test app"};
  io::SetupApp(app, "vs-maintest");
  int n = 0;
  app.add_option("--n", n, "a number");
  args.insert(args.begin(), "vs-maintest");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return io::Main(app, static_cast<int>(argv.size()), argv.data(), [&] {
    if (ran) *ran = true;
    return body();
  });
}

}  // namespace

TEST_CASE("io::Main maps what the body returns or throws to the documented exit codes",
          "[io][main]") {
  CHECK(RunMain({}, [] { return io::kExitOk; }) == 0);
  CHECK(RunMain({}, [] { return io::kExitRecordErrors; }) == 3);
  CHECK(RunMain({}, []() -> int { throw io::UsageError("give --n"); }) == 2);
  CHECK(RunMain({}, []() -> int { throw std::invalid_argument("--n must be odd"); }) == 2);
  CHECK(RunMain({}, []() -> int { throw std::runtime_error("cannot open model"); }) == 1);
  CHECK(RunMain({}, []() -> int { throw 42; }) == 1);
}

TEST_CASE("io::Main ends at --help, --version and parse errors without running the body",
          "[io][main]") {
  for (auto [args, rc] :
       std::vector<std::pair<std::vector<std::string>, int>>{{{"--help"}, 0},
                                                             {{"--version"}, 0},
                                                             {{"--dump-flags"}, 0},
                                                             {{"--n", "x"}, 2},
                                                             {{"--bogus"}, 2}}) {
    bool ran = false;
    INFO(args[0]);
    CHECK(RunMain(
              args, [] { return 0; }, &ran) == rc);
    CHECK_FALSE(ran);
  }
  bool ran = false;
  CHECK(RunMain(
            {"--n", "3"}, [] { return 0; }, &ran) == 0);
  CHECK(ran);
}
