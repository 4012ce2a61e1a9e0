// The JSONL reader (simdjson validation, id checks, error records for bad lines) and the key
// splicer (Record::raw/get/set/erase over the scanned members): arbitrary bytes as lines.
#include <string>
#include <vector>

#include "fuzz.hpp"
#include "io/record.hpp"
#include "io/stream.hpp"

using vstar::io::Json;
using vstar::io::Record;

namespace {

bool ParsesAsObject(const std::string& text) {
  Json j = Json::parse(text, nullptr, false);
  return !j.is_discarded() && j.is_object();
}

// Splices into a record the reader accepted: the result must still be one JSON object holding the
// new value, whenever nlohmann accepts the input too (simdjson and nlohmann differ on a few number
// edge cases, which are not the splicer's business).
void Splice(Record& r) {
  const bool was_object = ParsesAsObject(r.text());
  for (auto& m : vstar::io::ScanMembers(r.text())) {
    std::string key(m.key);
    (void)r.raw(key);
    try {
      (void)r.get(key);
      (void)r.string(key);
    } catch (const Json::exception&) {
      vstar::fuzz::Check(!was_object);  // a member of a valid object is valid JSON
    }
  }
  (void)r.id();
  r.set("fuzz", Json{{"k", "v\xff"}, {"n", 1}});
  r.set_raw("id", "\"x\"");
  r.erase("error");
  r.erase("fuzz");
  r.set_error("fuzz", "message");
  if (was_object) {
    vstar::fuzz::Check(ParsesAsObject(r.text()));
    vstar::fuzz::Check(r.id() == "x");
    vstar::fuzz::Check(r.get("error").at("stage") == "fuzz");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vstar::fuzz::Quiet();
  std::vector<std::string> lines;
  std::string_view s = vstar::fuzz::Text(data, size);
  while (!s.empty()) {
    size_t nl = s.find('\n');
    lines.emplace_back(s.substr(0, nl));
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
  vstar::io::StreamOptions opt;
  opt.output = "/dev/null";
  opt.progress = vstar::io::Progress::kNever;
  vstar::io::RunStreamOver(std::move(lines), opt, "fuzz", 2, [](std::span<Record*> batch) {
    for (Record* r : batch) Splice(*r);
  });
  return 0;
}
