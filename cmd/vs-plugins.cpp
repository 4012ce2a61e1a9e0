// vs-plugins: lists the tool plugins this vstar finds (like gst-inspect): name, kind, version, options.
#include <iostream>

#include <CLI/CLI.hpp>

#include "io/cli.hpp"
#include "io/log.hpp"
#include "io/stream.hpp"
#include "tools/plugins.hpp"

int main(int argc, char** argv) {
  using namespace vstar;
  CLI::App app{"List the tool plugins found on the plugin search path, or describe one."};
  io::SetupApp(app, "vs-plugins");
  std::vector<std::string> plugin_path;
  std::string name, kind;
  bool json = false, paths = false;
  app.add_option("name", name, "describe only this plugin (exit 1 if it cannot be loaded)");
  app.add_option("--plugin-path", plugin_path, "extra plugin directory searched first (repeatable)");
  app.add_option("--kind", kind, "list only plugins of this kind")
      ->check(CLI::IsMember({"detect", "pose", "explain", "describe"}));
  app.add_flag("--json", json, "print one JSON object per plugin instead of text");
  app.add_flag("--paths", paths, "print the directories searched, in order, and exit");
  VSTAR_PARSE(app, argc, argv);

  auto dirs = tools::PluginDirs(plugin_path);
  if (paths) {
    for (const auto& d : dirs) std::cout << d.string() << "\n";
    return io::kExitOk;
  }
  auto found = tools::FindPlugins(dirs);
  if (!name.empty()) {
    std::erase_if(found, [&](const auto& p) { return p.name != name; });
    if (found.empty()) {
      try {
        tools::LoadTool(name, dirs, {});
      } catch (const std::exception& e) {
        log::Error(e.what());
      }
      return io::kExitFatal;
    }
  }
  int failures = 0;
  for (const auto& p : found) {
    io::Json j = io::Json::object();
    j["name"] = p.name;
    j["path"] = p.path.string();
    std::vector<tools::plugin::Info> infos;
    try {
      infos = tools::DescribePlugin(p.path);
    } catch (const std::exception& e) {
      ++failures;
      if (json) {
        j["error"] = e.what();
        std::cout << io::Dump(j) << "\n";
      } else {
        std::cout << p.name << "  (unusable)  " << p.path.string() << "\n    error: " << e.what() << "\n";
      }
      continue;
    }
    for (const auto& info : infos) {
      if (!kind.empty() && kind != tools::plugin::KindName(info.kind)) continue;
      if (json) {
        io::Json o = io::Json::array();
        for (const auto& opt : info.options)
          o.push_back({{"name", opt.name}, {"default", opt.default_value}, {"help", opt.help}});
        j["kind"] = tools::plugin::KindName(info.kind);
        j["version"] = info.version;
        j["abi"] = tools::plugin::kAbiVersion;
        j["description"] = info.description;
        j["top_down"] = info.top_down;
        j["options"] = o;
        std::cout << io::Dump(j) << "\n";
        continue;
      }
      std::cout << p.name << "  " << tools::plugin::KindName(info.kind) << "  " << info.version << "  "
                << p.path.string() << "\n    " << info.description << "\n";
      for (const auto& opt : info.options)
        std::cout << "    --plugin-opt " << opt.name << "=" << opt.default_value << "  " << opt.help << "\n";
    }
  }
  if (found.empty() && name.empty()) {
    std::cerr << "vs-plugins: no plugins found; searched:";
    for (const auto& d : dirs) std::cerr << " " << d.string();
    std::cerr << "\n";
  }
  return failures && !name.empty() ? io::kExitFatal : io::kExitOk;
}
