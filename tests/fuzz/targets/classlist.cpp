// Class-list readers, every accepted form (text, TSV, CSV, JSON dicts/arrays, JSONL records), and a
// lookup of the input's first line in what was read.
#include <string>

#include "fuzz.hpp"
#include "recog/classlist.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vstar::recog;
  std::string text(vstar::fuzz::Text(data, size));
  try {
    ClassList list = ParseClassList(text, "fuzz");
    vstar::fuzz::Check(list.size() > 0);
    bool ambiguous = false;
    auto hit = list.Find(text.substr(0, text.find('\n')), &ambiguous);
    vstar::fuzz::Check(!hit || *hit < list.size());
    (void)list.ToJson().dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  } catch (const std::runtime_error&) {
  }
  auto j = nlohmann::ordered_json::parse(text, nullptr, false);
  if (!j.is_discarded()) {
    try {
      (void)ClassListFromJson(j, "fuzz");
    } catch (const std::runtime_error&) {
    }
  }
  (void)CandidateFromLine(text);
  return 0;
}
