// The text plugins obey the SDK rule (CONTRIBUTING.md): they include only <vstar/plugin.h> and their own
// folder's headers, and link no vstar library, so they build out of tree against the installed SDK.
#include <fstream>
#include <regex>

#include "support.hpp"

TEST_CASE("plugins local, openai, precomputed include only the SDK and their own files") {
  namespace fs = std::filesystem;
  const std::regex quoted(R"re(^\s*#\s*include\s*"([^"]+)")re");
  const std::regex angled(R"re(^\s*#\s*include\s*<vstar/([^>]+)>)re");
  for (const char* name : {"local", "openai", "precomputed"}) {
    fs::path dir = vstar::test::SourceDir() / "plugins" / name;
    REQUIRE(fs::is_directory(dir));
    for (const auto& entry : fs::directory_iterator(dir)) {
      const fs::path& p = entry.path();
      std::ifstream in(p);
      std::string line;
      while (std::getline(in, line)) {
        INFO(p.string() << ": " << line);
        std::smatch m;
        if (std::regex_search(line, m, quoted)) CHECK(fs::exists(dir / m[1].str()));  // a sibling file
        if (std::regex_search(line, m, angled)) CHECK(m[1].str() == "plugin.h");
        if (p.filename() == "CMakeLists.txt" && line.find("vstar_add_plugin") != std::string::npos)
          CHECK(std::regex_search(line, std::regex(R"(LINK[^)]*\bvstar(_model|_torch)?\b[^-])")) == false);
      }
    }
  }
}
