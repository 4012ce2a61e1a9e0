#pragma once
// Options of the visual tool stages (vs-detect, vs-pose), registered on their CLI apps.
#include <map>
#include <string>
#include <vector>

#include <vstar/plugin.h>

namespace CLI {
class App;
}

namespace vstar::tools {

// Which plugin runs and how it is configured.
struct PluginOptions {
  std::string plugin;                    // --plugin (or --detector)
  std::string model;                     // --model (or --detector-model)
  std::vector<std::string> plugin_opts;  // --plugin-opt key=value (or --detector-opt), repeatable

  // flag "plugin" registers --plugin/--model/--plugin-opt; flag "detector" registers
  // --detector/--detector-model/--detector-opt.
  void Register(CLI::App& app, const std::string& flag, const std::string& default_plugin,
                const std::string& what);
  // The Config handed to the factory (model path made absolute, --plugin-opt parsed).
  ::vstar::plugin::Config ToConfig(::vstar::plugin::Kind kind, const std::string& device) const;
};

enum class Overlay { kPose, kPo, kBound };
const char* OverlayName(Overlay o);

struct VisualOptions {
  PluginOptions tool;
  std::vector<std::string> plugin_path;  // --plugin-path DIR (repeatable, ':'-separated lists too)
  std::vector<std::string> overlays;     // --overlay pose|po|bound (repeatable or comma-separated)
  bool track = false;                    // --track
  std::string conf;                      // --conf (shorthand for --plugin-opt conf=...)
  std::string iou;                       // --iou (shorthand for --plugin-opt iou=...)
  std::string classes;                   // --classes (shorthand for --plugin-opt classes=...)
  int batch = 0;                         // --batch: frames per plugin call (0 = all of a record)

  void Register(CLI::App& app, bool pose);
  std::vector<Overlay> OverlayList() const;  // parsed and de-duplicated; throws std::invalid_argument
};

struct PoseStageOptions {
  VisualOptions visual;
  PluginOptions detector;  // --detector, --detector-model, --detector-opt (top-down pose only)
  bool redetect = false;   // --redetect: ignore the record's `detect` boxes
  void Register(CLI::App& app);
};

}  // namespace vstar::tools
