#pragma once
// Finding, loading and listing tool plugins. A plugin is a file vstar-<name>.so exporting
// `vstar_plugin_abi` and `vstar_plugin_create` through Boost.DLL aliases (include/vstar/plugin.h).
// Search order: --plugin-path entries, then $VSTAR_PLUGIN_PATH (':'-separated), then
// <exe>/../lib/vstar/plugins. The first file with a given name wins. Loaded libraries are never
// unloaded, so a tool (or anything it allocated) may outlive every handle the host holds.
#include <filesystem>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <vstar/plugin.h>

namespace CLI {
class App;
}

namespace vstar::tools {

namespace plugin = ::vstar::plugin;

// Raised for every loader failure; the message is meant for the user (names file, reason, remedy).
struct PluginError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Directories searched, in order, existing or not (listing tools show them).
std::vector<std::filesystem::path> PluginDirs(const std::vector<std::string>& cli_paths);

struct PluginFile {
  std::string name;  // "yolo" for vstar-yolo.so
  std::filesystem::path path;
};
// Every plugin file found in `dirs` (first occurrence of a name wins), sorted by name. A directory
// or file that is world-writable is skipped with a warning.
std::vector<PluginFile> FindPlugins(const std::vector<std::filesystem::path>& dirs);

// Loads the library at `path`, checks its ABI, creates the tool with `config` (its `host` defaulted to
// the process's PluginHost(), tools/host.hpp) and checks that it is of `config.kind`. Throws PluginError with a clear message otherwise.
std::unique_ptr<plugin::Tool> CreateTool(const std::filesystem::path& path, const plugin::Config& config);

// Loads and checks only the exported ABI number (what listing tools show before creating anything).
int ReadAbi(const std::filesystem::path& path);

// What a plugin offers: one Info per kind it serves, learned by creating it with an empty Config for
// each kind (factories are cheap and load models lazily, so this works without --model).
std::vector<plugin::Info> DescribePlugin(const std::filesystem::path& path);

// Finds `name` in `dirs` and creates it; an unknown name lists what exists and where it looked.
std::unique_ptr<plugin::Tool> LoadTool(const std::string& name, const std::vector<std::filesystem::path>& dirs,
                                       const plugin::Config& config);

template <typename T>
std::unique_ptr<T> LoadAs(const std::string& name, const std::vector<std::filesystem::path>& dirs,
                          const plugin::Config& config) {
  auto tool = LoadTool(name, dirs, config);
  T* typed = dynamic_cast<T*>(tool.get());
  if (!typed)
    throw PluginError("plugin '" + name + "' claims kind " + plugin::KindName(config.kind) +
                      " but does not implement its interface");
  tool.release();
  return std::unique_ptr<T>(typed);
}

// Parses "key=value" pairs (--plugin-opt); throws std::invalid_argument on a missing '='.
std::map<std::string, std::string> ParseOptionPairs(const std::vector<std::string>& pairs);

// Rejects keys the plugin does not declare (message lists the declared ones) and returns the
// effective options: declared defaults overlaid with `given`. This is what records report.
std::map<std::string, std::string> EffectiveOptions(const plugin::Info& info,
                                                    const std::map<std::string, std::string>& given);

plugin::Kind ParseKind(const std::string& name);  // throws std::invalid_argument

// vs-plugins: what to list and how.
struct ListOptions {
  std::vector<std::string> plugin_path;  // --plugin-path, searched first
  std::string name;                      // describe only this plugin
  std::string kind;                      // --kind: only plugins of this kind
  bool json = false;                     // --json: one JSON object per plugin and kind
  bool paths = false;                    // --paths: the directories searched, in order
  void Register(CLI::App& app);
};

// Writes the listing (like gst-inspect: name, kind, version, path, description, options) to `out`.
// A plugin that cannot be loaded is listed as unusable with the loader's message. Returns 0, or 1 when
// the one plugin asked for by name is unusable; throws PluginError when that name is not found.
int ListPlugins(const ListOptions& opt, std::ostream& out);

}  // namespace vstar::tools
