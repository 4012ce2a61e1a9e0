#pragma once
// The record loop every vs-* binary shares: read JSONL from files or stdin, hand records to the stage
// (one at a time or in batches, on --threads workers), write them in input order, flush per record,
// show progress on a TTY, turn failures into error records and exit codes, and end with a closing
// line on stderr, "vs-x: done N records, E with errors" (Kaldi's "Done N files, E with errors").
#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "io/record.hpp"
#include "io/select.hpp"

namespace CLI {
class App;
}

namespace vstar::io {

// Documented exit codes (man vstar(7)).
enum ExitCode : int {
  kExitOk = 0,          // every record processed without error
  kExitFatal = 1,       // a fatal error (cannot open input/output, --strict and a record failed, ...)
  kExitUsage = 2,       // bad flags or arguments
  kExitRecordErrors = 3 // the stream finished but some records carry an "error" key
};

enum class Progress { kAuto, kAlways, kNever };

// Options shared by every binary; Register() adds them to a CLI11 app.
struct StreamOptions {
  std::vector<std::string> inputs;  // -i/--input (repeatable); "-" or none = stdin
  std::string output = "-";         // -o/--output
  int threads = 1;                  // --threads: records processed concurrently
  bool strict = false;              // --strict: first record error is fatal
  Progress progress = Progress::kAuto;
  std::string log_level = "info";
  std::string device = "auto";  // --device auto|cpu|cuda|cuda:N (used by model stages)
  // Record selection (io/select.hpp), honoured by RunStream/RunStreamOver.
  Shard shard;          // --shard I/N, --shard-by id|order
  bool resume = false;  // --resume: -o FILE keeps its complete records, only the missing ones run

  // `selects_records` = false for binaries that read whole streams rather than run the record loop
  // (vs-eval, vs-audit, vs-import): they get no --shard, --shard-by or --resume.
  void Register(CLI::App& app, bool selects_records = true);
};

// Called once per batch with records that carry no error yet. To fail one record call
// record.set_error(stage, msg); an exception fails every record of the batch.
using BatchFn = std::function<void(std::span<Record*> batch)>;

struct StreamStats {
  size_t records = 0;
  size_t errors = 0;  // records that left with an "error" key (including ones that came in with one)
};

// Runs the loop. `batch_size` records are handed to `fn` together (1 = one at a time). Records that
// already carry an error pass through untouched; records outside opt.shard, or already in the output
// under opt.resume, are neither processed nor written. Returns the exit code (--resume without
// -o FILE is a usage error).
int RunStream(const StreamOptions& opt, std::string_view stage, size_t batch_size, const BatchFn& fn,
              StreamStats* stats = nullptr);

// One record at a time: `fn` gets each record that carries no error yet (an exception fails that record).
using RecordFn = std::function<void(Record& record)>;
int RunStream(const StreamOptions& opt, std::string_view stage, const RecordFn& fn,
              StreamStats* stats = nullptr);

// Variant for binaries whose records are produced rather than read (e.g. vs-decode given paths as
// arguments): `inputs` are JSON object texts, presented as if read from "<args>".
int RunStreamOver(std::vector<std::string> objects, const StreamOptions& opt, std::string_view stage,
                  size_t batch_size, const BatchFn& fn, StreamStats* stats = nullptr);

}  // namespace vstar::io
