#pragma once
// An external reward program (`--reward-cmd "CMD"`): any program, in any language, that reads
// vs-reward's input records on stdin and writes each back, one JSON line per record in order, with
// vs-reward's "reward" key (man vs-reward). `vs-reward` itself is one.
//
// One process per call (per group), not one long-lived process per run: a plain filter that reads to
// end of input and then answers (block-buffered stdout — Python's, C stdio's — or vs-reward batching
// its reads) works unchanged, where a long-lived pipe pair would need the program to flush after every
// record and would deadlock on the rest; a group's failure is the group's own, with no state carried
// over. The cost is one process start per group, milliseconds against seconds of rollouts.
//
// Nothing is ever scored silently: a program that exits non-zero, is killed, outlives the timeout,
// prints a line that is not a JSON object, answers with another record's id, carries an "error" key
// (vs-reward's failure protocol) or no "reward" key, or prints fewer or more lines than it was given
// records, is an ExternalRewardError naming the command and what it did.
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "io/record.hpp"

namespace vstar::reward {

struct ExternalRewardError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ExternalRewardOptions {
  std::string command;     // --reward-cmd; empty: rewards are computed in-process
  double timeout_s = 60;   // --reward-timeout: per call, from start to exit
  void Register(CLI::App& app);
};

class ExternalReward {
 public:
  // `command` runs as /bin/sh -c COMMAND, in its own process group (killed whole on timeout); its
  // stderr is ours.
  ExternalReward(std::string command, double timeout_s);
  explicit ExternalReward(const ExternalRewardOptions& opt) : ExternalReward(opt.command, opt.timeout_s) {}

  // Writes `records` (JSON objects), one line each, then closes the program's stdin; returns each
  // record's "reward" object in order. Each must have "completions": an array of objects with a
  // numeric "total", as many as the record's own "completions" (one for a record without them).
  std::vector<io::Json> Score(const std::vector<io::Json>& records) const;

  const std::string& command() const { return command_; }

 private:
  std::string command_;
  double timeout_s_;
};

}  // namespace vstar::reward
