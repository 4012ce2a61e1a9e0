#include "tools/options.hpp"

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include <CLI/CLI.hpp>

#include "io/paths.hpp"
#include "tools/plugins.hpp"

namespace vstar::tools {

void PluginOptions::Register(CLI::App& app, const std::string& flag, const std::string& default_plugin,
                             const std::string& what) {
  plugin = default_plugin;
  const bool main = flag == "plugin";
  app.add_option("--" + flag, plugin, what + " plugin name (see vs-plugins)")->capture_default_str();
  app.add_option(main ? "--model" : "--" + flag + "-model", model,
                 what + " model file for the plugin (TorchScript, ONNX, ...)");
  app.add_option(main ? "--plugin-opt" : "--" + flag + "-opt", plugin_opts,
                 what + " plugin option KEY=VALUE (repeatable; vs-plugins lists each plugin's options)");
}

plugin::Config PluginOptions::ToConfig(plugin::Kind kind, const std::string& device) const {
  plugin::Config c;
  c.kind = kind;
  if (!model.empty()) c.model = std::filesystem::absolute(model).lexically_normal().string();
  c.device = device;
  c.values = ParseOptionPairs(plugin_opts);
  c.share_dir = io::ShareDir().string();
  return c;
}

const char* OverlayName(Overlay o) {
  switch (o) {
    case Overlay::kPose: return "pose";
    case Overlay::kPo: return "po";
    case Overlay::kBound: return "bound";
  }
  return "?";
}

void VisualOptions::Register(CLI::App& app, bool pose) {
  tool.Register(app, "plugin", pose ? "yolo" : "hog", pose ? "pose" : "detect");
  app.add_option("--plugin-path", plugin_path,
                 "extra plugin directory searched first (repeatable; before $VSTAR_PLUGIN_PATH)");
  app.add_option("--overlay", overlays,
                 pose ? "write annotated frames: pose (boxes+skeleton), po (skeleton), bound (boxes); "
                        "repeatable or comma-separated"
                      : "write annotated frames: bound (boxes); repeatable or comma-separated")
      ->delimiter(',')
      ->check(pose ? CLI::IsMember({"pose", "po", "bound"}) : CLI::IsMember({"bound"}));
  app.add_flag("--track", track, "give each person an id that stays the same across a clip's frames");
  app.add_option("--conf", conf, "confidence threshold (same as --plugin-opt conf=X)");
  app.add_option("--iou", iou, "NMS IoU threshold (same as --plugin-opt iou=X)");
  if (!pose)
    app.add_option("--classes", classes,
                   "classes to keep: comma-separated ids or names, or 'all' (same as --plugin-opt classes=X)");
  app.add_option("--batch", batch, "frames per plugin call (0 = all frames of a record)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

std::vector<Overlay> VisualOptions::OverlayList() const {
  std::vector<Overlay> out;
  for (const auto& name : overlays) {
    Overlay o;
    if (name == "pose") o = Overlay::kPose;
    else if (name == "po") o = Overlay::kPo;
    else if (name == "bound") o = Overlay::kBound;
    else throw std::invalid_argument("unknown overlay '" + name + "' (pose, po, bound)");
    if (std::find(out.begin(), out.end(), o) == out.end()) out.push_back(o);
  }
  return out;
}

void PoseStageOptions::Register(CLI::App& app) {
  visual.Register(app, true);
  detector.Register(app, "detector", "hog", "person detector (top-down pose)");
  app.add_flag("--redetect", redetect,
               "run --detector even when the record already carries `detect` boxes (top-down pose only)");
}

}  // namespace vstar::tools
