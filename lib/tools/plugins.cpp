#include "tools/plugins.hpp"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <ostream>
#include <set>
#include <sstream>

#include <CLI/CLI.hpp>
#include <boost/dll/shared_library.hpp>

#include "io/log.hpp"
#include "io/paths.hpp"
#include "io/record.hpp"
#include "tools/host.hpp"

namespace vstar::tools {
namespace fs = std::filesystem;

namespace {

constexpr const char* kPrefix = "vstar-";
constexpr const char* kSuffix = ".so";
constexpr plugin::Kind kKinds[] = {plugin::Kind::kDetect, plugin::Kind::kPose, plugin::Kind::kExplain,
                                   plugin::Kind::kDescribe, plugin::Kind::kTeacher};

void SplitPathList(const std::string& list, std::vector<fs::path>& out) {
  std::stringstream s(list);
  std::string item;
  while (std::getline(s, item, ':'))
    if (!item.empty()) out.emplace_back(item);
}

// Libraries stay loaded for the life of the process: a tool's vtable and everything it allocated live
// in the library, and unloading while any of it is reachable would crash later, far from the cause.
boost::dll::shared_library& Load(const fs::path& path) {
  static std::mutex mu;
  static auto* loaded = new std::map<fs::path, boost::dll::shared_library>();  // never destroyed
  std::lock_guard<std::mutex> lock(mu);
  fs::path key = fs::weakly_canonical(path);
  auto it = loaded->find(key);
  if (it != loaded->end()) return it->second;
  boost::dll::shared_library lib;
  try {
    lib.load(boost::dll::fs::path(key.string()), boost::dll::load_mode::rtld_now);
  } catch (const std::exception& e) {
    throw PluginError("cannot load plugin " + path.string() + ": " + e.what());
  }
  return loaded->emplace(key, std::move(lib)).first->second;
}

int AbiOf(boost::dll::shared_library& lib, const fs::path& path) {
  if (!lib.has("vstar_plugin_abi") || !lib.has("vstar_plugin_create"))
    throw PluginError(path.string() +
                      " is not a vstar plugin (it exports no vstar_plugin_abi/vstar_plugin_create; "
                      "build it with VSTAR_PLUGIN from <vstar/plugin.h>)");
  return lib.get_alias<const int>("vstar_plugin_abi");
}

}  // namespace

std::vector<fs::path> PluginDirs(const std::vector<std::string>& cli_paths) {
  std::vector<fs::path> dirs;
  for (const auto& p : cli_paths) SplitPathList(p, dirs);
  if (const char* env = std::getenv("VSTAR_PLUGIN_PATH"); env && *env) SplitPathList(env, dirs);
  dirs.push_back((io::ExecutableDir() / ".." / "lib" / "vstar" / "plugins").lexically_normal());
  return dirs;
}

namespace {

// Anyone can put a library into a world-writable directory, or rewrite a world-writable file, and
// loading it runs their code in our process: such places are refused, as ld.so ignores
// LD_LIBRARY_PATH for setuid programs. Warned once per path and process.
bool WorldWritable(const fs::path& path, const char* what) {
  std::error_code ec;
  const auto perms = fs::status(path, ec).permissions();
  if (ec || (perms & fs::perms::others_write) == fs::perms::none) return false;
  static std::mutex mu;
  static std::set<std::string> warned;
  std::lock_guard<std::mutex> lock(mu);
  if (warned.insert(path.string()).second)
    log::Warn(what, " ", path.string(),
              " is world-writable: its plugins are not loaded (chmod o-w ", path.string(), ")");
  return true;
}

}  // namespace

std::vector<PluginFile> FindPlugins(const std::vector<fs::path>& dirs) {
  std::vector<PluginFile> found;
  std::set<std::string> seen;
  for (const auto& dir : dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    if (WorldWritable(dir, "plugin directory")) continue;
    std::vector<PluginFile> here;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      std::string file = entry.path().filename().string();
      if (file.rfind(kPrefix, 0) != 0 || file.size() <= std::string(kPrefix).size() + 3 ||
          file.substr(file.size() - 3) != kSuffix)
        continue;
      if (WorldWritable(entry.path(), "plugin file")) continue;
      std::string name = file.substr(6, file.size() - 6 - 3);
      here.push_back({name, entry.path()});
    }
    std::sort(here.begin(), here.end(), [](auto& a, auto& b) { return a.name < b.name; });
    for (auto& p : here)
      if (seen.insert(p.name).second) found.push_back(std::move(p));
  }
  std::sort(found.begin(), found.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return found;
}

int ReadAbi(const fs::path& path) {
  auto& lib = Load(path);
  return AbiOf(lib, path);
}

std::unique_ptr<plugin::Tool> CreateTool(const fs::path& path, const plugin::Config& given) {
  plugin::Config config = given;
  if (!config.host) config.host = &PluginHost();
  auto& lib = Load(path);
  int abi = AbiOf(lib, path);
  if (abi != plugin::kAbiVersion)
    throw PluginError("plugin " + path.string() + " was built for plugin ABI " + std::to_string(abi) +
                      " but this vstar speaks ABI " + std::to_string(plugin::kAbiVersion) +
                      "; rebuild the plugin against this vstar's <vstar/plugin.h>");
  auto factory = lib.get_alias<const plugin::Factory>("vstar_plugin_create");
  std::unique_ptr<plugin::Tool> tool;
  try {
    tool = factory(config);
  } catch (const std::exception& e) {
    throw PluginError(path.filename().string() + ": " + e.what());
  }
  if (!tool) throw PluginError("plugin " + path.string() + " returned no tool for kind " +
                               plugin::KindName(config.kind));
  auto info = tool->info();
  if (info.kind != config.kind)
    throw PluginError("plugin '" + info.name + "' (" + path.string() + ") is a " + plugin::KindName(info.kind) +
                      " tool, not a " + plugin::KindName(config.kind) + " tool");
  return tool;
}

std::vector<plugin::Info> DescribePlugin(const fs::path& path) {
  std::vector<plugin::Info> infos;
  std::string first_error;
  for (auto kind : kKinds) {
    plugin::Config config;
    config.kind = kind;
    config.device = "cpu";
    config.share_dir = io::ShareDir().string();
    try {
      auto tool = CreateTool(path, config);
      infos.push_back(tool->info());
    } catch (const PluginError& e) {
      // A single-kind plugin answers every kind with its own tool (CreateTool then reports the
      // mismatch) or throws for kinds it does not serve; only ABI/load failures are fatal here.
      if (std::string(e.what()).find("plugin ABI") != std::string::npos) throw;
      if (first_error.empty()) first_error = e.what();
    }
  }
  if (infos.empty()) throw PluginError(first_error.empty() ? "no tool" : first_error);
  return infos;
}

std::unique_ptr<plugin::Tool> LoadTool(const std::string& name, const std::vector<fs::path>& dirs,
                                       const plugin::Config& config) {
  auto found = FindPlugins(dirs);
  for (const auto& p : found)
    if (p.name == name) {
      log::Debug("plugin ", name, ": ", p.path.string());
      return CreateTool(p.path, config);
    }
  std::string msg = "unknown plugin '" + name + "'; available:";
  if (found.empty()) msg += " none";
  for (const auto& p : found) msg += " " + p.name;
  msg += " (searched";
  for (const auto& d : dirs) msg += " " + d.string();
  msg += "; add directories with --plugin-path or $VSTAR_PLUGIN_PATH)";
  throw PluginError(msg);
}

std::map<std::string, std::string> ParseOptionPairs(const std::vector<std::string>& pairs) {
  std::map<std::string, std::string> out;
  for (const auto& p : pairs) {
    auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0)
      throw std::invalid_argument("--plugin-opt wants key=value, got '" + p + "'");
    out[p.substr(0, eq)] = p.substr(eq + 1);
  }
  return out;
}

std::map<std::string, std::string> EffectiveOptions(const plugin::Info& info,
                                                    const std::map<std::string, std::string>& given) {
  std::map<std::string, std::string> out;
  for (const auto& o : info.options) out[o.name] = o.default_value;
  for (const auto& [k, v] : given) {
    if (!out.count(k)) {
      std::string known;
      for (const auto& o : info.options) known += (known.empty() ? "" : ", ") + o.name;
      throw PluginError("plugin '" + info.name + "' has no option '" + k + "' (it has: " +
                        (known.empty() ? "none" : known) + ")");
    }
    out[k] = v;
  }
  return out;
}

plugin::Kind ParseKind(const std::string& name) {
  for (auto k : kKinds)
    if (name == plugin::KindName(k)) return k;
  throw std::invalid_argument("unknown plugin kind '" + name + "' (detect, pose, explain, describe, teacher)");
}

void ListOptions::Register(CLI::App& app) {
  app.add_option("name", name, "describe only this plugin (exit 1 if it cannot be loaded)");
  app.add_option("--plugin-path", plugin_path, "extra plugin directory searched first (repeatable)");
  app.add_option("--kind", kind, "list only plugins of this kind")
      ->check(CLI::IsMember({"detect", "pose", "explain", "describe", "teacher"}));
  app.add_flag("--json", json, "print one JSON object per plugin instead of text");
  app.add_flag("--paths", paths, "print the directories searched, in order, and exit");
}

int ListPlugins(const ListOptions& opt, std::ostream& out) {
  auto dirs = PluginDirs(opt.plugin_path);
  if (opt.paths) {
    for (const auto& d : dirs) out << d.string() << "\n";
    return 0;
  }
  auto found = FindPlugins(dirs);
  if (!opt.name.empty()) {
    std::erase_if(found, [&](const auto& p) { return p.name != opt.name; });
    if (found.empty()) {
      LoadTool(opt.name, dirs, {});  // throws the loader's message: what exists and where it looked
      throw PluginError("plugin '" + opt.name + "' is not in the search path");
    }
  }
  int failures = 0;
  for (const auto& p : found) {
    io::Json j = io::Json::object();
    j["name"] = p.name;
    j["path"] = p.path.string();
    std::vector<plugin::Info> infos;
    try {
      infos = DescribePlugin(p.path);
    } catch (const std::exception& e) {
      ++failures;
      if (opt.json) {
        j["error"] = e.what();
        out << io::Dump(j) << "\n";
      } else {
        out << p.name << "  (unusable)  " << p.path.string() << "\n    error: " << e.what() << "\n";
      }
      continue;
    }
    for (const auto& info : infos) {
      if (!opt.kind.empty() && opt.kind != plugin::KindName(info.kind)) continue;
      if (opt.json) {
        io::Json o = io::Json::array();
        for (const auto& option : info.options)
          o.push_back({{"name", option.name}, {"default", option.default_value}, {"help", option.help}});
        j["kind"] = plugin::KindName(info.kind);
        j["version"] = info.version;
        j["abi"] = plugin::kAbiVersion;
        j["description"] = info.description;
        j["top_down"] = info.top_down;
        j["options"] = o;
        out << io::Dump(j) << "\n";
        continue;
      }
      out << p.name << "  " << plugin::KindName(info.kind) << "  " << info.version << "  " << p.path.string()
          << "\n    " << info.description << "\n";
      for (const auto& option : info.options)
        out << "    --plugin-opt " << option.name << "=" << option.default_value << "  " << option.help << "\n";
    }
  }
  if (found.empty() && opt.name.empty()) {
    std::string searched;
    for (const auto& d : dirs) searched += " " + d.string();
    log::Warn("no plugins found; searched:", searched);
  }
  return failures && !opt.name.empty() ? 1 : 0;
}

}  // namespace vstar::tools
