// Every binary follows the CLI conventions, has a man page documenting each of its flags, and has
// committed completions identical to what its real flags generate (so neither can drift).
#include <catch2/catch.hpp>

#include "io/record.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using vstar::io::Json;
using vstar::test::Run;

namespace {
// The binaries this configuration declares (tests/CMakeLists.txt passes the list), not those that
// happened to build: one that is declared and missing fails here.
std::vector<std::string> Binaries() {
  const auto& names = vstar::test::DeclaredBinaries();
  REQUIRE_FALSE(names.empty());
  for (const auto& n : names) {
    INFO(n << " is declared by cmd/" << n << ".cpp but was not built");
    REQUIRE(fs::exists(vstar::test::BinDir() / n));
  }
  return names;
}
}  // namespace

TEST_CASE("every vs-* binary: --help, --version, usage errors exit 2", "[cli]") {
  for (auto& b : Binaries()) {
    INFO(b);
    auto help = Run({b, "--help"});
    CHECK(help.status == 0);
    // Record stages share the stream flags; the listing tool, the server, the world generator and the
    // checkpoint initialiser are not.
    if (b != "vs-plugins" && b != "vs-serve" && b != "vs-synth" && b != "vs-init") CHECK(help.out.find("--input") != std::string::npos);
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
  VSTAR_REQUIRE_PROGRAM("bash");
  const std::string b = Binaries().front();
  fs::path file = vstar::test::SourceDir() / "completions" / "bash" / b;
  std::string fn = "_" + b;
  std::replace(fn.begin(), fn.end(), '-', '_');
  std::string script = "source '" + file.string() + "'; COMP_WORDS=(" + b +
                       " --prog); COMP_CWORD=1; " + fn + "; printf '%s\\n' \"${COMPREPLY[@]}\"";
  auto r = Run({"/usr/bin/env", "bash", "-c", script});
  CHECK(r.status == 0);
  CHECK(r.out.find("--progress") != std::string::npos);
  // A mapped option's values are its words (CLI11 spells the mapping "always->1").
  std::string values = "source '" + file.string() + "'; COMP_WORDS=(" + b +
                       " --progress ''); COMP_CWORD=2; " + fn +
                       "; printf '%s\\n' \"${COMPREPLY[@]}\"";
  auto v = Run({"/usr/bin/env", "bash", "-c", values});
  CHECK(v.status == 0);
  CHECK(v.out == "always\nauto\nnever\n");
}
