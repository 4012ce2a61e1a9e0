// tokenizer.json loading: the bytes as a tokenizer.json file; what loads must then encode and
// decode a fixed text without failing other than by TokenizerError.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz.hpp"
#include "model/tokenizer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::filesystem::path file = [] {
    auto dir = std::filesystem::temp_directory_path() / ("vstar-fuzz-tok-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    return dir / "tokenizer.json";
  }();
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    auto tok = vstar::model::Tokenizer::Load(file);
    auto ids = tok.Encode("Hello <|im_start|>user w\xc3\xb6rld 123\n\xff");
    (void)tok.Decode(ids, true);
  } catch (const std::exception&) {
  }
  return 0;
}
