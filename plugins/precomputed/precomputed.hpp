#pragma once
// The `precomputed` plugin's tools: explanations and descriptions a user already has on disk, so the
// official profile can be reproduced without any API.
// - explain: option classes=FILE[,FILE...]: class lists with descriptions in any format the host reads
//   (plugin::Host::ReadClassList; e.g. the authors' {"0": "Name: description"} dicts); looked up by
//   normalised class name (plugin::NormaliseName).
// - describe: option descriptions=FILE[,FILE...]: JSON arrays (or JSONL) of objects with a text field
//   (analysis, description, text or explanation) keyed by "path" and/or "problem_id"/"id", e.g. the
//   authors' *_description.json. A video id matches a path exactly, then by its longest unambiguous
//   trailing path components ("/data/hmdb51/brush_hair/x.avi" finds "brush_hair/x.avi"), then as a
//   problem_id/id. Keys that map to different texts are ambiguous and never match.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <vstar/plugin.h>

namespace vstar::precomputed {

class PrecomputedExplainer : public plugin::Explainer {
 public:
  explicit PrecomputedExplainer(const plugin::Config& config);
  plugin::Info info() const override;
  std::vector<plugin::Text> Explain(const std::vector<std::string>& class_names) override;

 private:
  std::map<std::string, std::pair<std::string, std::string>> by_name_;  // normalised -> (text, file)
  std::string missing_;  // set when created without class lists: Explain refuses with this
};

class PrecomputedDescriber : public plugin::Describer {
 public:
  explicit PrecomputedDescriber(const plugin::Config& config);
  plugin::Info info() const override;
  plugin::Text Describe(const std::string& video_id, const std::vector<plugin::Image>& frames) override;
  size_t size() const { return texts_.size(); }

 private:
  struct Slot {
    size_t text = 0;
    bool ambiguous = false;
  };
  void Index(std::map<std::string, Slot>& map, const std::string& key, size_t text);
  std::vector<std::pair<std::string, std::string>> texts_;  // (text, file)
  std::map<std::string, Slot> by_path_;                      // full paths and their suffixes
  std::map<std::string, Slot> by_id_;
  std::string missing_;  // set when created without description files: Describe refuses with this
};

std::unique_ptr<plugin::Tool> CreatePrecomputedTool(const plugin::Config& config);

}  // namespace vstar::precomputed
