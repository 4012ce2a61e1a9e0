#pragma once
// Conventions every binary follows: --version, --help, a hidden --dump-flags used to generate shell
// completions and to check man pages against the real flags, and usage errors mapped to exit code 2.
#include <string>

#include <CLI/CLI.hpp>

namespace vstar::io {

// Makes an app named `name` with `--version` and the hidden `--dump-flags`.
void SetupApp(CLI::App& app, const std::string& name);

// Parses argv; on --help/--version prints and returns the exit code to use (0), on a usage error
// prints the message and returns 2, otherwise returns -1 (continue). Handles --dump-flags too.
// Binaries call it through io::Main (io/main.hpp).
int ParseArgs(CLI::App& app, int argc, char** argv);

// Every option of an app (and its subcommands) as JSON: names, description, whether it takes a value,
// allowed values. This is what completions/ are generated from.
std::string DescribeFlags(const CLI::App& app);

// A completion script for `shell` (bash, zsh or fish) generated from the app's real flags, so the
// committed completions/ cannot drift from the code (tests compare them). Printed by the hidden
// `--completion SHELL` flag every binary has.
std::string CompletionScript(const CLI::App& app, const std::string& shell);

}  // namespace vstar::io
