#include "io/stream.hpp"

#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_set>

#include <simdjson.h>
#include <CLI/CLI.hpp>

#include "io/log.hpp"
#include "io/progress.hpp"
#include "io/select.hpp"

namespace vstar::io {

void StreamOptions::Register(CLI::App& app, bool selects_records) {
  app.add_option("-i,--input", inputs, "Input JSONL file(s); '-' or none reads stdin")
      ->type_name("FILE");
  app.add_option("-o,--output", output, "Output JSONL file; '-' is stdout")
      ->type_name("FILE")
      ->capture_default_str();
  app.add_option("--threads", threads, "Records processed concurrently")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_flag("--strict", strict, "Stop at the first record that fails (exit 1)");
  std::map<std::string, Progress> progress_map{
      {"auto", Progress::kAuto}, {"always", Progress::kAlways}, {"never", Progress::kNever}};
  app.add_option("--progress", progress, "Progress bar on stderr: auto (TTY only), always, never")
      ->transform(CLI::CheckedTransformer(progress_map, CLI::ignore_case))
      ->type_name("auto|always|never");
  app.add_option("--log-level", log_level, "debug, info, warn, error or quiet (stderr)")
      ->check(CLI::IsMember({"debug", "info", "warn", "error", "quiet"}))
      ->each([](const std::string& v) { log::SetLevel(log::ParseLevel(v)); })
      ->capture_default_str();
  app.add_option("--device", device, "Compute device for model stages: auto, cpu, cuda, cuda:N")
      ->check([](const std::string& v) -> std::string {
        if (v == "auto" || v == "cpu" || v == "cuda") return "";
        if (v.rfind("cuda:", 0) == 0 && v.size() > 5 &&
            v.find_first_not_of("0123456789", 5) == std::string::npos)
          return "";
        return "expected auto, cpu, cuda or cuda:N";
      })
      ->capture_default_str();
  if (!selects_records) return;
  app.add_option_function<std::string>(
         "--shard",
         [this](const std::string& v) {
           auto by = shard.by;  // --shard-by may come first
           shard = ParseShard(v);
           shard.by = by;
         },
         "Process only shard I of N (0 <= I < N) of the input records")
      ->type_name("I/N")
      ->check([](const std::string& v) -> std::string {
        try {
          ParseShard(v);
          return "";
        } catch (const std::invalid_argument& e) {
          return e.what();
        }
      });
  std::map<std::string, Shard::By> by_map{{"id", Shard::By::kId}, {"order", Shard::By::kOrder}};
  app.add_option("--shard-by", shard.by,
                 "How --shard assigns records: id (a hash of the id, default) or order "
                 "(position in the input)")
      ->transform(CLI::CheckedTransformer(by_map, CLI::ignore_case))
      ->type_name("id|order");
  app.add_flag("--resume", resume,
               "Keep the records already in -o FILE (a torn last line is dropped) and process only "
               "the missing ones, appending them");
}

namespace {

// The reader of our output is gone (`vs-x ... | head -1`): end as cat(1) does, killed by SIGPIPE,
// silently and without a core, whatever disposition or mask we inherited (EPIPE instead of the
// signal means SIGPIPE was ignored or blocked). The shell reports status 141 (128 + SIGPIPE),
// vstar(7).
[[noreturn]] void DieOfBrokenPipe() {
  std::signal(SIGPIPE, SIG_DFL);
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_UNBLOCK, &pipe, nullptr);
  std::raise(SIGPIPE);
  std::_Exit(128 + SIGPIPE);  // not reached: SIGPIPE's default action ends the process
}

class Output {
 public:
  Output(const std::string& path, bool append) {
    if (path == "-" || path.empty()) {
      f_ = stdout;
    } else {
      f_ = std::fopen(path.c_str(), append ? "ab" : "wb");
      if (!f_) throw std::runtime_error("cannot open output " + path + ": " + std::strerror(errno));
      owned_ = true;
    }
  }
  ~Output() {
    if (owned_) std::fclose(f_);
  }
  void Write(const std::string& text) {
    // One write per record and a flush, so downstream stages in a pipe see records as they finish.
    std::string line = text;
    line += '\n';
    if (std::fwrite(line.data(), 1, line.size(), f_) != line.size() || std::fflush(f_) != 0) {
      if (errno == EPIPE) DieOfBrokenPipe();
      throw std::runtime_error(std::string("cannot write output: ") + std::strerror(errno));
    }
  }

 private:
  FILE* f_ = nullptr;
  bool owned_ = false;
};

// Yields records from a sequence of JSONL sources (files or stdin), validating each line.
class Reader {
 public:
  Reader(std::vector<std::string> inputs, std::string stage)
      : inputs_(std::move(inputs)), stage_(std::move(stage)) {
    if (inputs_.empty()) inputs_.push_back("-");
  }

  // Objects given directly (RunStreamOver).
  Reader(std::vector<std::string> objects, std::string stage, bool)
      : objects_(std::move(objects)), stage_(std::move(stage)), from_objects_(true) {}

  // Total number of records when it can be known cheaply (regular files only).
  std::optional<size_t> CountTotal() const {
    if (from_objects_) return objects_.size();
    size_t n = 0;
    for (auto& in : inputs_) {
      if (in == "-") return std::nullopt;
      std::ifstream f(in, std::ios::binary);
      if (!f) return std::nullopt;
      std::string line;
      while (std::getline(f, line))
        if (line.find_first_not_of(" \t\r\n") != std::string::npos) ++n;
    }
    return n;
  }

  // False at the end of all input.
  bool Next(Record& out) {
    if (from_objects_) {
      if (next_object_ >= objects_.size()) return false;
      out = Make(std::move(objects_[next_object_]), "<args>", next_object_ + 1);
      ++next_object_;
      return true;
    }
    std::string line;
    while (true) {
      if (!stream_) {
        if (next_input_ >= inputs_.size()) return false;
        Open(inputs_[next_input_++]);
      }
      if (!std::getline(*stream_, line)) {
        if (stream_->bad()) throw std::runtime_error("read error on " + source_);
        stream_ = nullptr;
        file_.reset();
        continue;
      }
      ++line_no_;
      if (line_no_ == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      out = Make(std::move(line), source_, line_no_);
      return true;
    }
  }

 private:
  void Open(const std::string& path) {
    line_no_ = 0;
    if (path == "-") {
      source_ = "<stdin>";
      stream_ = &std::cin;
      return;
    }
    file_ = std::make_unique<std::ifstream>(path, std::ios::binary);
    if (!*file_)
      throw std::runtime_error("cannot open input " + path + ": " + std::strerror(errno));
    source_ = path;
    stream_ = file_.get();
  }

  Record Make(std::string text, const std::string& source, size_t line) {
    simdjson::padded_string padded(text);
    simdjson::dom::element doc;
    auto err = parser_.parse(padded).get(doc);
    std::string where = source + ":" + std::to_string(line);
    if (err || !doc.is_object()) {
      std::string why = err ? simdjson::error_message(err) : "not a JSON object";
      // Keep the bad line's start so the user can find it; the record itself cannot be kept.
      Json rec = Json::object();
      rec["error"] = {{"stage", stage_},
                      {"message", where + ": invalid JSONL record: " + why},
                      {"input", text.substr(0, 200)}};
      return Record(Dump(rec), source, line);
    }
    Record r(std::move(text), source, line);
    std::string id = r.id();
    if (id.empty() && !r.has_error()) {
      r.set_error(stage_, where + ": record has no \"id\" (string or number)");
    } else if (!id.empty() && !seen_.insert(id).second) {
      r.set_error(stage_, where + ": duplicate id \"" + id + "\" in this stream");
    }
    return r;
  }

  std::vector<std::string> inputs_;
  std::vector<std::string> objects_;
  std::string stage_;
  bool from_objects_ = false;
  size_t next_object_ = 0;
  size_t next_input_ = 0;
  std::unique_ptr<std::ifstream> file_;
  std::istream* stream_ = nullptr;
  std::string source_;
  size_t line_no_ = 0;
  simdjson::dom::parser parser_;
  std::unordered_set<std::string> seen_;
};

void ProcessBatch(std::span<Record*> batch, std::string_view stage, const BatchFn& fn) {
  try {
    fn(batch);
  } catch (const std::exception& e) {
    for (Record* r : batch)
      if (!r->has_error()) r->set_error(stage, e.what());
  }
}

int Run(Reader& reader, const StreamOptions& opt, std::string_view stage, size_t batch_size,
        const BatchFn& fn, StreamStats* stats_out) {
  log::SetProgramName(std::string(stage));
  StreamStats stats;
  const bool to_file = !opt.output.empty() && opt.output != "-";
  if (opt.resume && !to_file) {
    log::Error("--resume needs -o FILE (the output it resumes into)");
    return kExitUsage;
  }
  std::unique_ptr<Output> out;
  std::optional<Resume> done;
  try {
    if (opt.resume) {
      done.emplace(opt.output);
      if (done->size())
        log::Info("resuming ", opt.output, ": ", done->size(), " records already there are kept");
    }
    out = std::make_unique<Output>(opt.output, opt.resume);
  } catch (const std::exception& e) {
    log::Error(e.what());
    return kExitFatal;
  }
  bool show = opt.progress == Progress::kAlways ||
              (opt.progress == Progress::kAuto && isatty(STDERR_FILENO));
  std::optional<size_t> total;
  if (show && !(done && done->size())) {
    total = reader.CountTotal();
    if (total) {
      long long n = opt.shard.CountOf(*total);
      total = n < 0 ? std::nullopt : std::optional<size_t>(static_cast<size_t>(n));
    }
  }
  ProgressBar bar(std::string(stage), total, show);
  if (!opt.shard.Whole())
    log::Debug("shard ", opt.shard.index, "/", opt.shard.count, " by ",
               opt.shard.by == Shard::By::kId ? "id" : "order");

  batch_size = std::max<size_t>(1, batch_size);
  const size_t threads = std::max(1, opt.threads);
  // Every way out ends with Kaldi's closing line ("Done N files, E with errors"), so a log shows
  // how far a stage got and whether anything failed even when the records went to a file.
  auto finish = [&](int rc) {
    bar.Finish();
    if (log::GetLevel() <= log::Level::kInfo)
      std::fprintf(stderr, "%.*s: done %zu records, %zu with errors\n",
                   static_cast<int>(stage.size()), stage.data(), stats.records, stats.errors);
    if (stats_out) *stats_out = stats;
    return rc;
  };
  size_t ordinal = 0;  // 0-based position of the next record in the input stream (--shard-by order)
  auto selected = [&](const Record& rec) {
    std::string id = rec.id();
    if (!opt.shard.Contains(ordinal++, id)) return false;
    return !done || !done->Done(id, rec.text());
  };
  // Writes one processed record; false when --strict stops the stream.
  auto emit = [&](Record& rec) {
    out->Write(rec.text());
    ++stats.records;
    bar.Tick();
    if (!rec.has_error()) return true;
    ++stats.errors;
    auto err = rec.get("error");
    std::string msg = err.is_object() && err.contains("message") && err["message"].is_string()
                          ? err["message"].get<std::string>()
                          : std::string("error");
    std::string id = rec.id();
    if (id.empty())
      log::Warn(msg);  // input errors already name file and line
    else
      log::Warn(id, ": ", msg);
    if (!opt.strict) return true;
    log::Error("--strict: stopping at the first failed record (", rec.where(), ")");
    return false;
  };
  // Up to `threads` batches run at once and a finished batch waits only for those before it, so a
  // slow record (a long video) holds back the output, not the other workers: a lock-step chunk of
  // `threads` batches would leave workers idle until its slowest batch ended. The window of batches
  // read ahead is bounded, so memory stays a few batches whatever the input's length.
  struct Slot {
    std::vector<Record> records;
    std::vector<Record*> todo;
    bool done = false;
    std::future<void> job;  // last: destroyed first, so an early return waits for the job
  };
  std::mutex mutex;
  std::condition_variable changed;
  size_t running = 0;
  const size_t window = threads == 1 ? 1 : 4 * threads;
  std::deque<std::unique_ptr<Slot>> slots;
  try {
    bool more = true;
    for (;;) {
      std::unique_lock lock(mutex);
      while (more && running < threads && slots.size() < window) {
        lock.unlock();
        auto slot = std::make_unique<Slot>();
        slot->records.reserve(batch_size);
        Record r;
        while (slot->records.size() < batch_size && (more = reader.Next(r)))
          if (selected(r)) slot->records.push_back(std::move(r));
        lock.lock();
        if (slot->records.empty()) break;
        for (auto& rec : slot->records)
          if (!rec.has_error()) slot->todo.push_back(&rec);
        if (slot->todo.empty() || threads == 1) {
          lock.unlock();
          if (!slot->todo.empty()) ProcessBatch(slot->todo, stage, fn);
          lock.lock();
          slot->done = true;
        } else {
          ++running;
          Slot* job = slot.get();
          job->job = std::async(std::launch::async, [&, job] {
            ProcessBatch(job->todo, stage, fn);
            std::lock_guard guard(mutex);
            job->done = true;
            --running;
            changed.notify_all();
          });
        }
        slots.push_back(std::move(slot));
      }
      if (slots.empty()) break;
      changed.wait(lock, [&] {
        return slots.front()->done || (more && running < threads && slots.size() < window);
      });
      while (!slots.empty() && slots.front()->done) {
        auto slot = std::move(slots.front());
        slots.pop_front();
        lock.unlock();
        if (slot->job.valid()) slot->job.get();
        for (auto& rec : slot->records)
          if (!emit(rec)) return finish(kExitFatal);
        lock.lock();
      }
    }
  } catch (const std::exception& e) {
    log::Error(e.what());
    return finish(kExitFatal);
  }
  return finish(stats.errors ? kExitRecordErrors : kExitOk);
}

}  // namespace

int RunStream(const StreamOptions& opt, std::string_view stage, size_t batch_size,
              const BatchFn& fn, StreamStats* stats) {
  Reader reader(opt.inputs, std::string(stage));
  return Run(reader, opt, stage, batch_size, fn, stats);
}

int RunStream(const StreamOptions& opt, std::string_view stage, const RecordFn& fn,
              StreamStats* stats) {
  return RunStream(
      opt, stage, 1,
      [&](std::span<Record*> batch) {
        for (Record* r : batch) fn(*r);
      },
      stats);
}

int RunStreamOver(std::vector<std::string> objects, const StreamOptions& opt,
                  std::string_view stage, size_t batch_size, const BatchFn& fn,
                  StreamStats* stats) {
  Reader reader(std::move(objects), std::string(stage), true);
  return Run(reader, opt, stage, batch_size, fn, stats);
}

}  // namespace vstar::io
