// Prompt-template files and their {{field}} substitution: the input is a template text, a NUL,
// then the record (JSON) it is rendered for.
#include "fuzz.hpp"
#include "policy/prompt.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto fields = vstar::fuzz::Fields(data, size, 2);
  auto record = vstar::io::Json::parse(fields[1], nullptr, false);
  if (record.is_discarded()) record = vstar::io::Json::object();
  try {
    auto tmpl = vstar::policy::PromptTemplate::Parse(fields[0], "fuzz");
    (void)vstar::model::RenderChat(tmpl.Render(record));
  } catch (const vstar::policy::TemplateError&) {
  } catch (const vstar::model::ChatTemplateError&) {
  }
  return 0;
}
