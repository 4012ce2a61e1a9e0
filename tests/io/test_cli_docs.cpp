// Every binary follows the CLI conventions, has a man page documenting each of its flags, and has
// committed completions identical to what its real flags generate (so neither can drift).
#include <catch2/catch.hpp>

#include "io/record.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using vstar::io::Json;
using vstar::test::Run;

namespace {
std::vector<std::string> Binaries() {
  std::vector<std::string> names;
  for (auto& e : fs::directory_iterator(vstar::test::SourceDir() / "cmd")) {
    auto n = e.path().stem().string();
    if (e.path().extension() == ".cpp" && n.rfind("vs-", 0) == 0 &&
        fs::exists(vstar::test::BinDir() / n))
      names.push_back(n);
  }
  std::sort(names.begin(), names.end());
  return names;
}
}  // namespace

TEST_CASE("every vs-* binary: --help, --version, usage errors exit 2", "[cli]") {
  auto bins = Binaries();
  if (bins.empty()) WARN("no vs-* binaries built in this configuration");
  for (auto& b : bins) {
    INFO(b);
    auto help = Run({b, "--help"});
    CHECK(help.status == 0);
    // Record stages share the stream flags; the listing tool, the server and the world generator are not.
    if (b != "vs-plugins" && b != "vs-serve" && b != "vs-synth") CHECK(help.out.find("--input") != std::string::npos);
    auto ver = Run({b, "--version"});
    CHECK(ver.status == 0);
    CHECK(ver.out.find("vstar") != std::string::npos);
    auto bad = Run({b, "--no-such-flag"});
    CHECK(bad.status == 2);
    CHECK(bad.out.empty());  // stdout carries records only
  }
}

TEST_CASE("every vs-* binary has a man page that documents each flag", "[cli][man]") {
  for (auto& b : Binaries()) {
    INFO(b);
    fs::path page = vstar::test::SourceDir() / "man" / (b + ".1.scd");
    REQUIRE(fs::exists(page));
    std::string text = vstar::test::ReadFile(page);
    auto flags = Json::parse(Run({b, "--dump-flags"}).out);
    for (auto& o : flags["options"]) {
      for (auto& l : o["long"]) {
        std::string flag = "--" + l.get<std::string>();
        INFO(flag);
        CHECK(text.find(flag) != std::string::npos);
      }
    }
    CHECK(text.find("EXIT STATUS") != std::string::npos);
  }
}

TEST_CASE("committed completions match the binaries' flags", "[cli][completions]") {
  const fs::path dir = vstar::test::SourceDir() / "completions";
  for (auto& b : Binaries()) {
    INFO(b << " — regenerate with `make completions`");
    for (auto [shell, file] : {std::pair{"bash", dir / "bash" / b}, {"zsh", dir / "zsh" / ("_" + b)},
                               {"fish", dir / "fish" / (b + ".fish")}}) {
      INFO(file);
      REQUIRE(fs::exists(file));
      auto gen = Run({b, "--completion", shell});
      REQUIRE(gen.status == 0);
      CHECK(vstar::test::ReadFile(file) == gen.out);
    }
  }
}

TEST_CASE("bash completions load and complete flags", "[cli][completions]") {
  auto bins = Binaries();
  if (bins.empty() || !fs::exists("/bin/bash")) return;
  const std::string& b = bins.front();
  fs::path file = vstar::test::SourceDir() / "completions" / "bash" / b;
  std::string fn = "_" + b;
  std::replace(fn.begin(), fn.end(), '-', '_');
  std::string script = "source '" + file.string() + "'; COMP_WORDS=(" + b +
                       " --prog); COMP_CWORD=1; " + fn + "; printf '%s\\n' \"${COMPREPLY[@]}\"";
  auto r = Run({"/bin/bash", "-c", script});
  CHECK(r.status == 0);
  CHECK(r.out.find("--progress") != std::string::npos);
}
