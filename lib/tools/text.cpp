#include "tools/text.hpp"

#include <future>
#include <stdexcept>

#include <CLI/CLI.hpp>
#include <opencv2/imgcodecs.hpp>

#include "io/log.hpp"
#include "io/main.hpp"
#include "io/paths.hpp"
#include "tools/plugins.hpp"
#include "video/sampling.hpp"

namespace vstar::tools {
namespace {

constexpr const char* kStage = "vs-explain";

template <typename T>
std::unique_ptr<T> Load(const TextToolSpec& spec, plugin::Kind kind, io::Json* report) {
  auto user_opts = ParseOptionPairs(spec.plugin_opts);  // std::invalid_argument for bad syntax
  plugin::Config config;
  config.kind = kind;
  config.model = spec.model;  // the openai plugin falls back to --api-model (values["model"])
  config.device = "cpu";
  config.share_dir = io::ShareDir().string();
  // Client flags reach the plugins that declare them (openai); --plugin-opt wins over them.
  config.values = spec.values;
  for (const auto& [k, v] : user_opts) config.values[k] = v;
  auto tool = LoadAs<T>(spec.plugin, PluginDirs(spec.plugin_paths), config);
  auto info = tool->info();
  try {
    EffectiveOptions(info, user_opts);  // rejects undeclared --plugin-opt keys
  } catch (const PluginError& e) {
    throw std::invalid_argument(e.what());  // a usage error
  }
  *report = {{"plugin", info.name}, {"version", info.version}};
  log::Info("plugin ", info.name, " ", info.version, ": ", info.description);
  return tool;
}

// A plugin's text as vs-explain writes it: `text` only when found; an unknown class's offered text
// (e.g. the local plugin's marked nearest entries) stays visible under `offered`, never as `text`.
io::Json TextJson(const plugin::Text& t, const io::Json& plugin) {
  io::Json j;
  j["text"] = t.found ? io::Json(t.text) : io::Json(nullptr);
  j["found"] = t.found;
  if (!t.found && !t.text.empty()) j["offered"] = t.text;
  j["source"] = t.source;
  j["plugin"] = plugin["plugin"];
  return j;
}

TextToolSpec SpecOf(const ExplainOptions& opt, const std::string& plugin) {
  return {plugin, opt.model, opt.plugin_paths, opt.plugin_opts, opt.client.ToValues()};
}

int RunClasses(const ExplainOptions& opt, const io::StreamOptions& stream) {
  if (opt.classes.empty()) throw io::UsageError("--what classes needs --classes FILE");
  recog::ClassList classes = recog::LoadClassList(opt.classes);
  io::Json plugin_report;
  auto explainer = Load<plugin::Explainer>(SpecOf(opt, opt.plugin.empty() ? "local" : opt.plugin),
                                           plugin::Kind::kExplain, &plugin_report);
  std::vector<std::string> objects;
  for (size_t i = 0; i < classes.size(); ++i) {
    const recog::Candidate& c = classes.items[i];
    io::Json o;
    o["id"] = c.key;
    o["index"] = i;
    o["class"] = c.name;
    if (!c.explanation.empty()) o["description"] = c.explanation;
    objects.push_back(io::Dump(o));
  }
  // One Explain call per batch so a network plugin keeps --jobs requests in flight.
  size_t batch = std::max<size_t>(1, static_cast<size_t>(opt.client.jobs) * 4);
  return io::RunStreamOver(std::move(objects), stream, kStage, batch, [&](std::span<io::Record*> records) {
    std::vector<std::string> names;
    for (auto* r : records) {
      std::string entry = r->string("class").value_or("");
      if (auto d = r->string("description")) entry += ": " + *d;
      names.push_back(entry);
    }
    auto texts = explainer->Explain(names);
    if (texts.size() != names.size())
      throw std::runtime_error("plugin returned " + std::to_string(texts.size()) + " texts for " +
                               std::to_string(names.size()) + " classes");
    for (size_t i = 0; i < records.size(); ++i) {
      if (!texts[i].error.empty()) {
        records[i]->set_error(kStage, texts[i].error);
        continue;
      }
      records[i]->set("explain", TextJson(texts[i], plugin_report));
    }
  });
}

// Reads the chosen frames of one record and asks the describer; returns the record's new `explain`.
io::Json DescribeRecord(plugin::Describer& describer, const ExplainOptions& opt, const io::Record& rec,
                        const io::Json& plugin_report) {
  std::string video_id;
  for (const auto& key : opt.video_keys) {
    io::Json v = rec.get(key);
    if (v.is_string()) video_id = v.get<std::string>();
    else if (v.is_number_integer()) video_id = std::to_string(v.get<long long>());
    if (!video_id.empty()) break;
  }
  if (video_id.empty()) throw plugin::Error("record has none of the --video-key fields");
  DescribeFrames frames = FramesToDescribe(rec.get("frames"), static_cast<size_t>(opt.num_frames));
  plugin::Text t = describer.Describe(video_id, frames.images);
  if (!t.error.empty()) throw plugin::Error(t.error);
  io::Json explain = rec.get("explain");
  if (!explain.is_object()) explain = io::Json::object();
  explain["video"] = t.found ? io::Json(t.text) : io::Json(nullptr);
  explain["video_found"] = t.found;
  explain["video_source"] = t.source;
  explain["video_plugin"] = plugin_report["plugin"];
  explain["video_frames"] = frames.chosen;
  return explain;
}

int RunVideo(const ExplainOptions& opt, const io::StreamOptions& stream) {
  if (opt.plugin.empty())
    throw io::UsageError("--what video needs --plugin (openai or precomputed)");
  if (opt.num_frames < 1) throw io::UsageError("--num-frames must be at least 1");
  io::Json plugin_report;
  auto describer = Load<plugin::Describer>(SpecOf(opt, opt.plugin), plugin::Kind::kDescribe, &plugin_report);
  size_t batch = static_cast<size_t>(std::max(1, opt.client.jobs));
  return io::RunStream(stream, kStage, batch, [&](std::span<io::Record*> records) {
    // Describe the batch concurrently (a network describer waits on the server, not the CPU).
    std::vector<std::future<io::Json>> results;
    for (auto* r : records)
      results.push_back(std::async(std::launch::async, [&, r] {
        return DescribeRecord(*describer, opt, *r, plugin_report);
      }));
    for (size_t i = 0; i < records.size(); ++i) {
      try {
        records[i]->set("explain", results[i].get());
      } catch (const std::exception& e) {
        records[i]->set_error(kStage, e.what());
      }
    }
  });
}

}  // namespace

void ExplainOptions::Register(CLI::App& app) {
  app.add_option("--what", what, "classes: explain a class list; video: describe each record's clip")
      ->check(CLI::IsMember({"classes", "video"}))
      ->capture_default_str();
  app.add_option("--classes", classes, "class list for --what classes (names, 'name: description' or TSV lines, CSV with a header, JSON, "
                 "or the JSONL of vs-import/vs-explain)");
  app.add_option("--plugin", plugin, "explain/describe plugin (local, openai, precomputed; default local for classes)");
  app.add_option("--plugin-path", plugin_paths, "extra plugin directories (searched first)");
  app.add_option("--plugin-opt", plugin_opts, "plugin option key=value (repeatable)");
  app.add_option("--model", model, "model handed to the plugin (openai: the model name; local: a knowledge-base file)");
  app.add_option("--num-frames", num_frames, "frames sent per video, spread evenly over the clip")
      ->capture_default_str();
  app.add_option("--video-key", video_keys, "record keys tried, in order, for the video's identity")
      ->capture_default_str();
  client.Register(app);
}

std::unique_ptr<plugin::Explainer> LoadExplainer(const TextToolSpec& spec, io::Json* report) {
  return Load<plugin::Explainer>(spec, plugin::Kind::kExplain, report);
}

std::unique_ptr<plugin::Describer> LoadDescriber(const TextToolSpec& spec, io::Json* report) {
  return Load<plugin::Describer>(spec, plugin::Kind::kDescribe, report);
}

std::string ExplainerEntry(const recog::Candidate& c) {
  return c.explanation.empty() ? c.name : c.name + ": " + c.explanation;
}

DescribeFrames FramesToDescribe(const io::Json& frames, size_t count) {
  DescribeFrames out;
  if (!frames.is_object() || !frames.contains("paths") || !frames["paths"].is_array()) return out;
  const auto& paths = frames["paths"];
  bool has_indices =
      frames.contains("indices") && frames["indices"].is_array() && frames["indices"].size() == paths.size();
  auto mats = std::make_shared<std::vector<cv::Mat>>();
  std::vector<std::string> names;
  for (size_t i : video::EvenFrameIndices(paths.size(), count)) {
    if (!paths[i].is_string()) throw plugin::Error("frames.paths[" + std::to_string(i) + "] is not a string");
    names.push_back(paths[i].get<std::string>());
    cv::Mat m = cv::imread(names.back(), cv::IMREAD_COLOR);
    if (m.empty()) throw plugin::Error("cannot read frame " + names.back());
    mats->push_back(std::move(m));
    out.chosen.push_back(has_indices ? frames["indices"][i] : io::Json(i));
  }
  for (size_t k = 0; k < mats->size(); ++k) {
    const cv::Mat& m = (*mats)[k];
    out.images.push_back({m.cols, m.rows, static_cast<int>(m.step[0]), m.data, names[k]});
  }
  out.storage = std::move(mats);
  return out;
}

int RunExplain(const ExplainOptions& opt, const io::StreamOptions& stream) {
  return opt.what == "video" ? RunVideo(opt, stream) : RunClasses(opt, stream);
}

}  // namespace vstar::tools
