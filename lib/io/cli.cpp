#include "io/cli.hpp"

#include <iostream>

#include <nlohmann/json.hpp>

#include "io/log.hpp"
#include "io/stream.hpp"
#include "vstar/version.hpp"

namespace vstar::io {

void SetupApp(CLI::App& app, const std::string& name) {
  app.name(name);
  app.set_version_flag("--version", std::string(name) + " (vstar) " + kVersion + " " + kGitDescribe);
  // CLI11 2.1 cannot take a string literal as a flag's description (ambiguous overloads).
  static const std::string dump_help = "Print every flag as JSON (used to generate completions)";
  app.add_flag("--dump-flags", dump_help)
      ->group("");  // hidden
  app.option_defaults()->always_capture_default();
  log::SetProgramName(name);
}

namespace {
nlohmann::ordered_json Describe(const CLI::App& app) {
  nlohmann::ordered_json j;
  j["name"] = app.get_name();
  j["description"] = app.get_description();
  j["options"] = nlohmann::ordered_json::array();
  for (const CLI::Option* o : app.get_options()) {
    if (o->get_group().empty()) continue;  // hidden
    nlohmann::ordered_json opt;
    opt["short"] = o->get_snames();
    opt["long"] = o->get_lnames();
    opt["positional"] = o->get_positional();
    opt["name"] = o->get_name();
    opt["takes_value"] = o->get_type_size() != 0;
    opt["type"] = o->get_type_name();
    opt["help"] = o->get_description();
    if (!o->get_lnames().empty() && o->get_lnames()[0] == "help") opt["takes_value"] = false;
    j["options"].push_back(opt);
  }
  j["subcommands"] = nlohmann::ordered_json::array();
  for (const CLI::App* sub : app.get_subcommands({})) j["subcommands"].push_back(Describe(*sub));
  return j;
}
}  // namespace

std::string DescribeFlags(const CLI::App& app) { return Describe(app).dump(2); }

int ParseArgs(CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--dump-flags") {
      std::cout << DescribeFlags(app) << "\n";
      return kExitOk;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    app.exit(e);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  return -1;
}

}  // namespace vstar::io
