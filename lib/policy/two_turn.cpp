#include "policy/two_turn.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <CLI/CLI.hpp>
#include <opencv2/imgcodecs.hpp>
#include <vstar/plugin.h>

#include "io/cache.hpp"
#include "io/log.hpp"
#include "io/paths.hpp"
#include "net/explain.hpp"
#include "recog/parse.hpp"
#include "recog/text.hpp"
#include "tools/overlay.hpp"
#include "tools/plugins.hpp"
#include "tools/stage.hpp"

namespace vstar::policy {
namespace fs = std::filesystem;
using io::Json;
using Clock = std::chrono::steady_clock;

namespace {

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

std::string ReadAll(const fs::path& p, const std::string& what) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + what + " " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Options

TwoTurnOptions::TwoTurnOptions() {
  profile.profile.clear();  // no profile = the single-turn --template mode
  detector.plugin = "hog";   // the default Register gives --detector; library users get it too
}

void TwoTurnOptions::Register(CLI::App& app) {
  profile.Register(app);
  app.add_option("--candidates", candidates,
                 "Two-turn mode: candidate class list (names, 'name: explanation' lines, JSON dict/array, or "
                 "vs-explain --what classes output)")
      ->type_name("FILE");
  app.add_option("--tools", tools, "Two-turn mode: dynamic (turn 1 decides), all, none (the paper's ablations)")
      ->check(CLI::IsMember({"dynamic", "all", "none"}))
      ->capture_default_str();
  app.add_option("--plugin-path", plugin_path, "Extra directories searched for tool plugins")->type_name("DIR");
  detector.Register(app, "detector", "hog", "person detector run when a record has no detect key");
  app.add_option("--pose-plugin", pose_plugin,
                 "Pose plugin run when a record has no pose key (none by default: pose needs a model)")
      ->type_name("NAME");
  app.add_option("--pose-model", pose_model, "Model file of --pose-plugin")->type_name("FILE");
  app.add_option("--pose-opt", pose_opts, "KEY=VALUE option of --pose-plugin (repeatable)")->type_name("KEY=VALUE");
  app.add_option("--explainer", explainer,
                 "Explainer plugin for the candidate explanations when --candidates carries none")
      ->capture_default_str();
  app.add_option("--explainer-opt", explainer_opts, "KEY=VALUE option of --explainer (repeatable)")
      ->type_name("KEY=VALUE");
  app.add_option("--describer", describer,
                 "Describer plugin run when a record has no explain.video paragraph (none by default)")
      ->type_name("NAME");
  app.add_option("--describer-model", describer_model, "Model of --describer")->type_name("NAME");
  app.add_option("--describer-opt", describer_opts, "KEY=VALUE option of --describer (repeatable)")
      ->type_name("KEY=VALUE");
  app.add_option("--describe-frames", describe_frames, "Frames handed to --describer, spread over the clip")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_flag("--keep-prompts", keep_prompts, "Two-turn mode: store each turn's user text in policy.turn*.prompt");
}

// ---------------------------------------------------------------------------------------------
// Candidates

Candidates ParseCandidates(const std::string& text, const std::string& where) {
  Candidates c;
  // vs-explain --what classes output: one JSON object per line with "class" and "explain".
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '{') {
    size_t eol = text.find('\n', first);
    Json head;
    bool jsonl = false;
    try {
      head = Json::parse(text.substr(first, eol == std::string::npos ? std::string::npos : eol - first));
      jsonl = head.is_object() && head.contains("class");
    } catch (const std::exception&) {
    }
    if (jsonl) {
      c.source = "vs-explain";
      size_t n = 0;
      for (const auto& line : recog::SplitLines(text)) {
        ++n;
        if (recog::Strip(line).empty()) continue;
        Json r;
        try {
          r = Json::parse(line);
        } catch (const std::exception& e) {
          throw std::runtime_error(where + ":" + std::to_string(n) + ": not JSON: " + e.what());
        }
        if (!r.is_object() || !r.contains("class") || !r["class"].is_string())
          throw std::runtime_error(where + ":" + std::to_string(n) + ": a vs-explain record needs a string \"class\"");
        if (r.contains("error"))
          throw std::runtime_error(where + ":" + std::to_string(n) + ": vs-explain failed for class '" +
                                   r["class"].get<std::string>() + "'");
        recog::Candidate cand;
        cand.name = recog::Strip(r["class"].get<std::string>());
        std::string description =
            r.contains("description") && r["description"].is_string() ? r["description"].get<std::string>() : "";
        if (r.contains("explain") && r["explain"].is_object() && r["explain"].value("found", false) &&
            r["explain"].contains("text") && r["explain"]["text"].is_string())
          cand.explanation = recog::Strip(r["explain"]["text"].get<std::string>());
        else
          cand.explanation = recog::Strip(description);
        // The authors' candidate line is their class-dict value "Name: description".
        if (!cand.explanation.empty())
          cand.line = cand.name + ": " + (description.empty() ? cand.explanation : description);
        if (cand.name.empty()) throw std::runtime_error(where + ":" + std::to_string(n) + ": empty class name");
        c.list.items.push_back(std::move(cand));
      }
      if (c.list.items.empty()) throw std::runtime_error(where + ": no classes");
      for (const auto& i : c.list.items) c.explained = c.explained || !i.explanation.empty();
      return c;
    }
  }
  c.source = "file";
  c.list = recog::ParseClassList(text, where);
  // Plain text "name: explanation" lines (the authors' split rule: at the first ':').
  for (auto& item : c.list.items)
    if (item.explanation.empty() && item.line.empty() && item.name.find(':') != std::string::npos) {
      item = recog::CandidateFromLine(std::string(item.name));
    }
  for (const auto& i : c.list.items) c.explained = c.explained || !i.explanation.empty();
  return c;
}

Candidates LoadCandidates(const std::string& file) {
  if (file.empty()) throw std::runtime_error("--profile needs --candidates FILE (the class list turn 2 chooses from)");
  return ParseCandidates(ReadAll(file, "candidate list"), file);
}

// ---------------------------------------------------------------------------------------------
// Responders

model::SamplingOptions EngineResponder::Effective(const recog::Sampling& s) const {
  const PolicyOptions& o = engine_.options();
  auto given = [&](const char* name) { return std::find(given_.begin(), given_.end(), name) != given_.end(); };
  model::SamplingOptions so = o.Sampling();
  double temperature = given("temperature") ? o.temperature : s.temperature;
  so.do_sample = temperature > 0;
  so.temperature = temperature > 0 ? temperature : 1.0;
  so.top_p = given("top_p") ? o.top_p : s.top_p;
  so.top_k = given("top_k") ? o.top_k : s.top_k;
  so.max_new_tokens = given("max_new_tokens") ? o.max_new_tokens : s.max_new_tokens;
  so.repetition_penalty = given("repetition_penalty") ? o.repetition_penalty : s.repetition_penalty;
  return so;
}

std::vector<Response> EngineResponder::Respond(const std::vector<Turn>& turns, const recog::Sampling& sampling) {
  std::vector<Conversation> convs;
  convs.reserve(turns.size());
  for (const auto& t : turns) {
    Conversation c;
    c.messages = t.messages;
    for (const auto& v : t.videos) c.videos.push_back(engine_.VideoFromFrames(v));
    convs.push_back(std::move(c));
  }
  return engine_.Respond(convs, Effective(sampling));
}

std::string UserText(const Turn& turn) {
  for (auto it = turn.messages.rbegin(); it != turn.messages.rend(); ++it) {
    if (it->role != "user") continue;
    if (!it->is_list) return it->text;
    std::string out;
    for (const auto& item : it->items)
      if (item.kind == model::ChatItem::Kind::kText) out += item.text;
    return out;
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Tools

ToolRunner::ToolRunner(const TwoTurnOptions& options, std::string device)
    : opt_(options), device_(std::move(device)) {}

ToolRunner::~ToolRunner() = default;

ToolRunner::Result ToolRunner::Detect(io::Record& record) {
  Result r;
  if (record.get("detect").is_object()) {
    r.report = {{"source", "record"}, {"plugin", record.get("detect").value("plugin", Json(nullptr))}};
    r.used = true;
    return r;
  }
  if (opt_.detector.plugin.empty()) {
    r.report = {{"source", "unavailable"}, {"reason", "the record has no detect key and --detector is empty"}};
    return r;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!detect_) {
      tools::VisualOptions v;
      v.tool = opt_.detector;
      v.plugin_path = opt_.plugin_path;
      v.overlays = {"bound"};
      detect_ = std::make_unique<tools::DetectStage>(v, device_);
    }
  }
  detect_->Process(record);  // the stage serialises plugin calls itself
  r.report = {{"source", "ran"}, {"plugin", detect_->info().name}};
  r.used = true;
  return r;
}

ToolRunner::Result ToolRunner::Pose(io::Record& record) {
  Result r;
  if (record.get("pose").is_object()) {
    r.report = {{"source", "record"}, {"plugin", record.get("pose").value("plugin", Json(nullptr))}};
    r.used = true;
    return r;
  }
  if (opt_.pose_plugin.empty()) {
    r.report = {{"source", "unavailable"},
                {"reason", "the record has no pose key and no --pose-plugin was given; turn 2 shows no skeletons"}};
    return r;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!pose_) {
      tools::PoseStageOptions p;
      p.visual.tool.plugin = opt_.pose_plugin;
      p.visual.tool.model = opt_.pose_model;
      p.visual.tool.plugin_opts = opt_.pose_opts;
      p.visual.plugin_path = opt_.plugin_path;
      p.visual.overlays = {"pose", "po"};
      p.detector = opt_.detector;
      pose_ = std::make_unique<tools::PoseStage>(p, device_);
    }
  }
  pose_->Process(record);
  r.report = {{"source", "ran"}, {"plugin", opt_.pose_plugin}};
  r.used = true;
  return r;
}

ToolRunner::Result ToolRunner::Explain(const Candidates& candidates, std::map<std::string, std::string>* out) {
  Result r;
  if (candidates.explained) {
    for (const auto& c : candidates.list.items)
      if (!c.explanation.empty()) (*out)[c.name] = c.explanation;
    r.report = {{"source", "candidates"}};
    r.used = true;
    return r;
  }
  if (opt_.explainer.empty()) {
    r.report = {{"source", "unavailable"}, {"reason", "--candidates carries no explanations and --explainer is empty"}};
    return r;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!explanations_) {
    plugin::Config config;
    config.kind = plugin::Kind::kExplain;
    config.device = "cpu";
    config.share_dir = io::ShareDir().string();
    config.values = tools::ParseOptionPairs(opt_.explainer_opts);
    explainer_ = tools::LoadAs<plugin::Explainer>(opt_.explainer, tools::PluginDirs(opt_.plugin_path), config);
    auto texts = explainer_->Explain(candidates.list.Names());
    if (texts.size() != candidates.list.size())
      throw std::runtime_error("explainer " + opt_.explainer + " returned " + std::to_string(texts.size()) +
                               " texts for " + std::to_string(candidates.list.size()) + " classes");
    std::map<std::string, std::string> m;
    size_t found = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
      if (!texts[i].error.empty())
        throw std::runtime_error("explainer " + opt_.explainer + " failed for '" + candidates.list.items[i].name +
                                 "': " + texts[i].error);
      if (texts[i].found && !recog::Strip(texts[i].text).empty()) {
        m[candidates.list.items[i].name] = recog::Strip(texts[i].text);
        ++found;
      }
    }
    explanations_ = std::move(m);
    explain_report_ = {{"source", "ran"}, {"plugin", explainer_->info().name}, {"explained", found},
                       {"classes", candidates.list.size()}};
    log::Info("explainer ", opt_.explainer, ": ", found, " of ", candidates.list.size(), " classes explained");
  }
  *out = *explanations_;
  r.report = explain_report_;
  r.used = !explanations_->empty();
  if (!r.used) r.report["reason"] = "the explainer knows none of the candidates";
  return r;
}

ToolRunner::Result ToolRunner::Describe(const io::Record& record, std::string* out) {
  Result r;
  Json explain = record.get("explain");
  if (explain.is_object() && explain.contains("video") && explain["video"].is_string() &&
      !recog::Strip(explain["video"].get<std::string>()).empty()) {
    *out = recog::Strip(explain["video"].get<std::string>());
    r.report = {{"source", "record"}};
    r.used = true;
    return r;
  }
  if (opt_.describer.empty()) {
    r.report = {{"source", "unavailable"},
                {"reason", "the record has no explain.video paragraph and no --describer was given"}};
    return r;
  }
  Json frames = record.get("frames");
  if (!frames.is_object() || !frames.contains("paths") || !frames["paths"].is_array())
    throw std::runtime_error("describe: record has no frames.paths");
  const auto& paths = frames["paths"];
  std::vector<cv::Mat> mats;
  std::vector<std::string> names;
  for (size_t i : net::EvenFrameIndices(paths.size(), static_cast<size_t>(opt_.describe_frames))) {
    names.push_back(paths[i].get<std::string>());
    cv::Mat m = cv::imread(names.back(), cv::IMREAD_COLOR);
    if (m.empty()) throw std::runtime_error("describe: cannot read frame " + names.back());
    mats.push_back(std::move(m));
  }
  std::vector<plugin::Image> images;
  for (size_t k = 0; k < mats.size(); ++k)
    images.push_back({mats[k].cols, mats[k].rows, static_cast<int>(mats[k].step[0]), mats[k].data, names[k]});
  std::lock_guard<std::mutex> lock(mu_);
  if (!describer_) {
    plugin::Config config;
    config.kind = plugin::Kind::kDescribe;
    config.model = opt_.describer_model;
    config.device = device_;
    config.share_dir = io::ShareDir().string();
    config.values = tools::ParseOptionPairs(opt_.describer_opts);
    describer_ = tools::LoadAs<plugin::Describer>(opt_.describer, tools::PluginDirs(opt_.plugin_path), config);
  }
  // The describer keys its answers by video; the id is a label-free handle (the record id).
  plugin::Text t = describer_->Describe(record.id(), images);
  if (!t.error.empty()) throw std::runtime_error("describer " + opt_.describer + ": " + t.error);
  r.report = {{"source", "ran"}, {"plugin", opt_.describer}, {"found", t.found}};
  if (t.found && !recog::Strip(t.text).empty()) {
    *out = recog::Strip(t.text);
    r.used = true;
  } else {
    r.report["reason"] = "the describer has no description for this video";
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Overlays

namespace {

plugin::Box BoxFrom(const Json& b) {
  const auto& xy = b.at("xyxy");
  plugin::Box box;
  box.x1 = xy.at(0).get<float>();
  box.y1 = xy.at(1).get<float>();
  box.x2 = xy.at(2).get<float>();
  box.y2 = xy.at(3).get<float>();
  box.score = b.value("score", 1.0f);
  box.cls = b.value("class", 0);
  box.label = b.value("label", std::string());
  return box;
}

// People per frame from a `pose` value (boxes + keypoints) or a `detect` value (boxes).
std::vector<std::vector<plugin::Person>> PeopleFrom(const Json& value, bool pose) {
  if (!value.is_object() || !value.contains("frames") || !value["frames"].is_array())
    throw std::runtime_error(std::string("`") + (pose ? "pose" : "detect") + ".frames` is missing or not an array");
  std::vector<std::vector<plugin::Person>> out;
  for (const auto& f : value["frames"]) {
    std::vector<plugin::Person> people;
    for (const auto& p : f.at(pose ? "people" : "boxes")) {
      plugin::Person person;
      person.box = BoxFrom(p);
      if (pose)
        for (const auto& k : p.at("keypoints"))
          person.keypoints.push_back({k.at(0).get<float>(), k.at(1).get<float>(), k.at(2).get<float>()});
      people.push_back(std::move(person));
    }
    out.push_back(std::move(people));
  }
  return out;
}

std::optional<std::vector<std::string>> ListedOverlay(const Json& value, const char* variant, size_t n) {
  if (!value.is_object() || !value.contains("overlays") || !value["overlays"].is_object()) return std::nullopt;
  const Json& o = value["overlays"];
  if (!o.contains(variant) || !o[variant].is_array() || o[variant].size() != n) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& p : o[variant]) {
    if (!p.is_string() || !fs::exists(p.get<std::string>())) return std::nullopt;
    out.push_back(p.get<std::string>());
  }
  return out;
}

std::vector<std::string> DrawOverlays(const std::vector<std::string>& frames, tools::Overlay variant,
                                      const std::vector<std::vector<plugin::Person>>& people, const Json& drawn) {
  std::string key = std::string("policy-overlay-v1\n") + tools::OverlayName(variant) + "\n" + io::Dump(drawn);
  for (const auto& p : frames) {
    std::error_code ec;
    key += "\n" + p + "\t" + std::to_string(fs::file_size(p, ec)) + "\t" +
           std::to_string(fs::last_write_time(p, ec).time_since_epoch().count());
  }
  fs::path dir = io::CacheDir("overlay", key);
  fs::create_directories(dir);
  std::vector<std::string> out;
  for (size_t i = 0; i < frames.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "%06zu.png", i);
    fs::path file = dir / name;
    if (!fs::exists(file)) {
      cv::Mat canvas = cv::imread(frames[i], cv::IMREAD_COLOR);
      if (canvas.empty()) throw std::runtime_error("cannot read frame " + frames[i]);
      tools::DrawOverlay(canvas, variant, people[i]);
      std::vector<uchar> png;
      if (!cv::imencode(".png", canvas, png)) throw std::runtime_error("cannot encode overlay " + file.string());
      io::WriteFileAtomic(file, std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
    }
    out.push_back(file.string());
  }
  return out;
}

}  // namespace

Json OverlayFrames(const io::Record& record, bool pose, bool detect, std::string* variant) {
  Json frames = record.get("frames");
  if (!frames.is_object() || !frames.contains("paths") || !frames["paths"].is_array())
    throw std::runtime_error("record has no frames.paths (run vs-decode first)");
  std::vector<std::string> paths;
  for (const auto& p : frames["paths"]) paths.push_back(p.get<std::string>());
  if (!pose && !detect) {
    *variant = "original";
    return frames;
  }
  // The authors' get_video_path: pose+detect -> boxes and skeletons ("pose"), pose -> skeletons ("po"),
  // detect -> boxes ("bound"). Pose people carry their own boxes, so pose+detect draws from `pose`.
  tools::Overlay v = pose ? (detect ? tools::Overlay::kPose : tools::Overlay::kPo) : tools::Overlay::kBound;
  const char* key = pose ? "pose" : "detect";
  Json value = record.get(key);
  *variant = tools::OverlayName(v);
  std::vector<std::string> drawn;
  if (auto listed = ListedOverlay(value, tools::OverlayName(v), paths.size())) {
    drawn = *listed;
  } else {
    auto people = PeopleFrom(value, pose);
    if (people.size() != paths.size())
      throw std::runtime_error(std::string("`") + key + "` has " + std::to_string(people.size()) +
                               " frames but `frames` has " + std::to_string(paths.size()));
    drawn = DrawOverlays(paths, v, people, value["frames"]);
  }
  frames["paths"] = drawn;
  return frames;
}

// ---------------------------------------------------------------------------------------------
// The two turns

TwoTurnPolicy::TwoTurnPolicy(Responder& responder, recog::Profile profile, Candidates candidates,
                             recog::ToolMode mode, ToolRunner& tools, bool keep_prompts)
    : responder_(responder),
      profile_(std::move(profile)),
      candidates_(std::move(candidates)),
      mode_(mode),
      tools_(tools),
      keep_prompts_(keep_prompts) {}

namespace {

const char* ModeName(recog::ToolMode m) {
  switch (m) {
    case recog::ToolMode::kDynamic: return "dynamic";
    case recog::ToolMode::kAll: return "all";
    case recog::ToolMode::kNone: return "none";
  }
  return "?";
}

std::vector<model::ChatMessage> SystemPrefix(const recog::Profile& p) {
  std::vector<model::ChatMessage> m;
  if (p.system_prompt) m.push_back(model::ChatMessage::Plain("system", *p.system_prompt));
  return m;
}

// The record's path as the authors' files write it (official {ANNOTATED_VIDEO_PATH} only).
std::string RecordPath(const io::Record& rec) {
  if (auto p = rec.string("path")) return *p;
  if (auto v = rec.string("video")) return *v;
  throw std::runtime_error("the profile's turn-2 template names the video path, but the record has no "
                           "\"path\" or \"video\"");
}

// The answer as the candidate list is matched against: the eval rule keeps the tags, the match does not.
std::string Untagged(std::string s) {
  const std::string open = "<answer>", close = "</answer>";
  if (s.rfind(open, 0) == 0 && s.size() >= open.size() + close.size() &&
      s.compare(s.size() - close.size(), close.size(), close) == 0)
    s = s.substr(open.size(), s.size() - open.size() - close.size());
  return recog::Strip(s);
}

Json TurnJson(const Response& r, double seconds) {
  Json j;
  j["text"] = r.text;
  j["tokens"] = r.tokens.size();
  j["prompt_tokens"] = r.prompt_tokens;
  j["finish_reason"] = r.finish_reason;
  j["seconds"] = seconds;
  return j;
}

}  // namespace

Turn TwoTurnPolicy::BuildTurn1(const io::Record& rec) const {
  Json frames = rec.get("frames");
  if (!frames.is_object()) throw std::runtime_error("record has no frames (run vs-decode first)");
  Turn t;
  t.messages = SystemPrefix(profile_);
  t.messages.push_back(model::ChatMessage::List(
      "user", {model::ChatItem::Video(), model::ChatItem::Text(recog::RenderTurn1(profile_))}));
  t.videos.push_back(frames);
  return t;
}

void TwoTurnPolicy::Run(std::span<io::Record*> batch) {
  const auto t0 = Clock::now();
  // Turn 1 for every record of the batch together.
  std::vector<Turn> turn1;
  std::vector<io::Record*> ready;
  for (auto* rec : batch) {
    try {
      turn1.push_back(BuildTurn1(*rec));
      ready.push_back(rec);
    } catch (const std::exception& e) {
      rec->set_error("vs-policy", e.what());
    }
  }
  if (ready.empty()) return;
  std::vector<Response> r1 = responder_.Respond(turn1, profile_.turn1_sampling);
  if (r1.size() != ready.size()) throw std::runtime_error("responder returned a wrong number of turn-1 answers");
  const double turn1_s = Seconds(t0, Clock::now());

  // Tools, per record; then turn 2 for the records still alive.
  struct Pending {
    io::Record* rec;
    size_t index;  // into turn1 / r1
    Json policy;
    double tools_s;
  };
  std::vector<Pending> pending;
  std::vector<Turn> turn2;
  for (size_t i = 0; i < ready.size(); ++i) {
    io::Record& rec = *ready[i];
    const auto ts = Clock::now();
    try {
      recog::ToolChoice choice = recog::ChooseTools(profile_, r1[i].text, mode_);
      Json decisions = Json::object();
      for (size_t k = 0; k < profile_.tools.size(); ++k) {
        const auto& d = choice.decisions[k];
        decisions[profile_.tools[k].name] = {{"tag", d.tag}, {"answer", d.found ? Json(d.yes ? "yes" : "no") : Json(nullptr)}};
      }
      // Run only the chosen tools; `delivered` is what turn 2 really gets.
      recog::ToolChoice delivered = choice;
      Json tool_report = Json::object();
      std::map<std::string, std::string> explanations;
      std::string description;
      // Detection first, so a top-down pose plugin run in process finds the boxes in the record.
      std::vector<const recog::ToolSpec*> order;
      for (const auto& spec : profile_.tools)
        if (spec.name == "detect") order.push_back(&spec);
      for (const auto& spec : profile_.tools)
        if (spec.name != "detect") order.push_back(&spec);
      for (const auto* tool : order) {
        const recog::ToolSpec& spec = *tool;
        Json rep = {{"chosen", choice.on(spec.name)}};
        ToolRunner::Result res;
        if (choice.on(spec.name)) {
          if (spec.name == "detect") res = tools_.Detect(rec);
          else if (spec.name == "pose") res = tools_.Pose(rec);
          else if (spec.name == "explain") res = tools_.Explain(candidates_, &explanations);
          else if (spec.name == "describe") res = tools_.Describe(rec, &description);
          else res.report = {{"source", "unavailable"}, {"reason", "no runner for tool " + spec.name}};
          for (auto& [k, v] : res.report.items()) rep[k] = v;
        }
        rep["used"] = res.used;
        delivered.use[spec.name] = res.used;
        tool_report[spec.name] = rep;
      }

      Turn t2;
      t2.messages = SystemPrefix(profile_);
      if (profile_.turn2_context == "continued") {
        // The authors' training context: turn-1 text without its video, the turn-1 answer, then turn 2.
        t2.messages.push_back(model::ChatMessage::List("user", {model::ChatItem::Text(recog::RenderTurn1(profile_))}));
        t2.messages.push_back(model::ChatMessage::Plain("assistant", r1[i].text));
      }
      recog::Turn2Input in;
      in.candidates = &candidates_.list;
      // The authors' lists show their dict line "Name: description"; explanations produced by a plugin
      // take that form where the list had none.
      recog::ClassList with_lines;
      if (profile_.candidate_style == "authors" && !explanations.empty()) {
        with_lines = candidates_.list;
        for (auto& c : with_lines.items) {
          auto it = explanations.find(c.name);
          if (c.line.empty() && it != explanations.end()) c.line = c.name + ": " + it->second;
        }
        in.candidates = &with_lines;
      }
      in.tools = delivered;
      in.explanations = explanations.empty() ? nullptr : &explanations;
      in.description = description;
      if (profile_.turn2_template.find("{ANNOTATED_VIDEO_PATH}") != std::string::npos) in.path = RecordPath(rec);
      if (profile_.turn2_template.find("{original_answer}") != std::string::npos)
        in.solution = rec.string("solution").value_or("");
      std::string text2 = recog::RenderTurn2(profile_, in);
      std::string variant = "original";
      Json video2 = profile_.turn2_frames == "selected"
                        ? OverlayFrames(rec, delivered.on("pose"), delivered.on("detect"), &variant)
                        : rec.get("frames");
      t2.messages.push_back(model::ChatMessage::List("user", {model::ChatItem::Video(), model::ChatItem::Text(text2)}));
      t2.videos.push_back(video2);

      Json p;
      p["profile"] = profile_.name;
      p["tools_mode"] = ModeName(mode_);
      p["turn1"] = TurnJson(r1[i], turn1_s);
      if (keep_prompts_) p["turn1"]["prompt"] = UserText(turn1[i]);
      p["decisions"] = decisions;
      p["tools"] = tool_report;
      p["turn2_frames"] = variant;
      if (keep_prompts_) p["turn2_prompt"] = text2;
      pending.push_back({&rec, i, std::move(p), Seconds(ts, Clock::now())});
      turn2.push_back(std::move(t2));
    } catch (const std::exception& e) {
      rec.set_error("vs-policy", e.what());
    }
  }
  if (pending.empty()) return;
  const auto t2start = Clock::now();
  std::vector<Response> r2 = responder_.Respond(turn2, profile_.turn2_sampling);
  if (r2.size() != pending.size()) throw std::runtime_error("responder returned a wrong number of turn-2 answers");
  const double turn2_s = Seconds(t2start, Clock::now());

  for (size_t j = 0; j < pending.size(); ++j) {
    Json& p = pending[j].policy;
    p["turn2"] = TurnJson(r2[j], turn2_s);
    if (keep_prompts_) {
      p["turn2"]["prompt"] = p["turn2_prompt"];
      p.erase("turn2_prompt");
    }
    recog::Answer a = recog::ExtractAnswer(r2[j].text, profile_.answer_rule);
    p["answer"] = a.text;
    p["answer_found"] = a.found;
    p["answer_rule"] = std::string(recog::AnswerRuleName(profile_.answer_rule));
    p["answer_text"] = a.text;
    recog::Mapped m = recog::MapAnswer(Untagged(a.text), candidates_.list);
    p["mapped"] = m.index ? Json(m.name) : Json(nullptr);
    p["unmapped"] = !m.index.has_value();
    p["map_status"] = m.status;
    p["timing"] = {{"turn1_s", turn1_s},
                   {"tools_s", pending[j].tools_s},
                   {"turn2_s", turn2_s},
                   {"total_s", turn1_s + pending[j].tools_s + turn2_s},
                   {"batch", ready.size()}};
    pending[j].rec->set("policy", p);
  }
}

}  // namespace vstar::policy
