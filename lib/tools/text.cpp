#include "net/explain.hpp"

#include <future>
#include <stdexcept>

#include <CLI/CLI.hpp>
#include <opencv2/imgcodecs.hpp>

#include "io/log.hpp"
#include "io/paths.hpp"
#include "io/record.hpp"
#include "net/classlist.hpp"
#include "net/host.hpp"
#include "tools/plugins.hpp"

namespace vstar::net {
namespace {

constexpr const char* kStage = "vs-explain";

plugin::Config MakeConfig(const ExplainOptions& opt, plugin::Kind kind,
                          const std::map<std::string, std::string>& user_opts) {
  plugin::Config config;
  config.kind = kind;
  config.model = opt.model;  // the openai plugin falls back to --api-model (values["model"])
  config.device = "cpu";
  config.share_dir = io::ShareDir().string();
  config.host = &PluginHost();  // the openai plugin's chat client, frame encoding, class lists
  // Client flags reach the plugins that declare them (openai); --plugin-opt wins over them.
  config.values = opt.client.ToValues();
  for (const auto& [k, v] : user_opts) config.values[k] = v;
  return config;
}

template <typename T>
std::unique_ptr<T> Load(const ExplainOptions& opt, const std::string& name, plugin::Kind kind,
                        io::Json* report) {
  auto user_opts = tools::ParseOptionPairs(opt.plugin_opts);
  auto tool = tools::LoadAs<T>(name, tools::PluginDirs(opt.plugin_paths), MakeConfig(opt, kind, user_opts));
  auto info = tool->info();
  try {
    tools::EffectiveOptions(info, user_opts);  // rejects undeclared --plugin-opt keys
  } catch (const tools::PluginError& e) {
    throw std::invalid_argument(e.what());  // a usage error
  }
  *report = {{"plugin", info.name}, {"version", info.version}};
  log::Info("plugin ", info.name, " ", info.version, ": ", info.description);
  return tool;
}

io::Json TextJson(const plugin::Text& t, const io::Json& plugin) {
  io::Json j;
  j["text"] = t.found ? io::Json(t.text) : io::Json(nullptr);
  j["found"] = t.found;
  j["source"] = t.source;
  j["plugin"] = plugin["plugin"];
  return j;
}

int RunClasses(const ExplainOptions& opt, const io::StreamOptions& stream) {
  if (opt.classes.empty()) throw CLI::ValidationError("--classes", "--what classes needs --classes FILE");
  std::vector<ClassEntry> entries = ReadClassList(opt.classes);
  io::Json plugin_report;
  auto explainer = Load<plugin::Explainer>(opt, opt.plugin.empty() ? "local" : opt.plugin,
                                           plugin::Kind::kExplain, &plugin_report);
  std::vector<std::string> objects;
  for (size_t i = 0; i < entries.size(); ++i) {
    io::Json o;
    o["id"] = entries[i].key;
    o["index"] = i;
    o["class"] = entries[i].name;
    if (!entries[i].description.empty()) o["description"] = entries[i].description;
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
  std::vector<cv::Mat> mats;
  std::vector<plugin::Image> images;
  io::Json chosen = io::Json::array();
  io::Json frames = rec.get("frames");
  if (frames.is_object() && frames.contains("paths") && frames["paths"].is_array()) {
    const auto& paths = frames["paths"];
    bool has_indices =
        frames.contains("indices") && frames["indices"].is_array() && frames["indices"].size() == paths.size();
    std::vector<std::string> names;
    for (size_t i : EvenFrameIndices(paths.size(), static_cast<size_t>(opt.num_frames))) {
      if (!paths[i].is_string()) throw plugin::Error("frames.paths[" + std::to_string(i) + "] is not a string");
      names.push_back(paths[i].get<std::string>());
      cv::Mat m = cv::imread(names.back(), cv::IMREAD_COLOR);
      if (m.empty()) throw plugin::Error("cannot read frame " + names.back());
      mats.push_back(std::move(m));
      chosen.push_back(has_indices ? frames["indices"][i] : io::Json(i));
    }
    for (size_t k = 0; k < mats.size(); ++k)
      images.push_back({mats[k].cols, mats[k].rows, static_cast<int>(mats[k].step), mats[k].data, names[k]});
  }
  plugin::Text t = describer.Describe(video_id, images);
  if (!t.error.empty()) throw plugin::Error(t.error);
  io::Json explain = rec.get("explain");
  if (!explain.is_object()) explain = io::Json::object();
  explain["video"] = t.found ? io::Json(t.text) : io::Json(nullptr);
  explain["video_found"] = t.found;
  explain["video_source"] = t.source;
  explain["video_plugin"] = plugin_report["plugin"];
  explain["video_frames"] = chosen;
  return explain;
}

int RunVideo(const ExplainOptions& opt, const io::StreamOptions& stream) {
  if (opt.plugin.empty())
    throw CLI::ValidationError("--plugin", "--what video needs --plugin (openai or precomputed)");
  if (opt.num_frames < 1) throw CLI::ValidationError("--num-frames", "must be at least 1");
  io::Json plugin_report;
  auto describer = Load<plugin::Describer>(opt, opt.plugin, plugin::Kind::kDescribe, &plugin_report);
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
  app.add_option("--classes", classes, "class list for --what classes (names, 'name: description' lines, JSON, or id,name CSV)");
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

std::vector<size_t> EvenFrameIndices(size_t total, size_t count) {
  std::vector<size_t> out;
  if (count == 0 || total == 0) return out;
  if (count >= total) {
    for (size_t i = 0; i < total; ++i) out.push_back(i);
    return out;
  }
  for (size_t i = 0; i < count; ++i) out.push_back((2 * i + 1) * total / (2 * count));
  return out;
}

int RunExplain(const ExplainOptions& opt, const io::StreamOptions& stream) {
  try {
    return opt.what == "video" ? RunVideo(opt, stream) : RunClasses(opt, stream);
  } catch (const CLI::ValidationError& e) {
    log::Error(e.what());
    return io::kExitUsage;
  } catch (const std::invalid_argument& e) {  // bad --plugin-opt syntax, client options
    log::Error(e.what());
    return io::kExitUsage;
  } catch (const std::exception& e) {
    log::Error(e.what());
    return io::kExitFatal;
  }
}

}  // namespace vstar::net
