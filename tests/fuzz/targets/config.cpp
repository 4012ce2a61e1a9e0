// config.json parsing (every layout transformers has written) and its consistency checks.
#include "fuzz.hpp"
#include "model/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto j = nlohmann::json::parse(vstar::fuzz::Text(data, size), nullptr, false);
  if (j.is_discarded()) return 0;
  try {
    auto config = vstar::model::ParseConfig(j, "fuzz");
    config.Validate();
    (void)config.ToHubJson().dump();
  } catch (const std::exception&) {
  }
  return 0;
}
