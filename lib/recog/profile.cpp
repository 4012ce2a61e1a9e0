#include "recog/profile.hpp"

#include <stdexcept>

#include <nlohmann/json.hpp>

#include "io/paths.hpp"
#include "io/text.hpp"
#include "recog/text.hpp"

namespace vstar::recog {
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

Sampling ReadSampling(const Json& j, const std::string& where) {
  Sampling s;
  if (j.is_null()) return s;
  if (!j.is_object()) throw std::runtime_error(where + " must be an object");
  s.temperature = j.value("temperature", s.temperature);
  s.top_p = j.value("top_p", s.top_p);
  s.top_k = j.value("top_k", s.top_k);
  s.max_new_tokens = j.value("max_new_tokens", s.max_new_tokens);
  s.repetition_penalty = j.value("repetition_penalty", s.repetition_penalty);
  return s;
}

void Expect(bool ok, const std::string& msg) {
  if (!ok) throw std::runtime_error(msg);
}

}  // namespace

std::string PathJoin(std::string_view a, std::string_view b) {
  if (!b.empty() && b.front() == '/') return std::string(b);
  if (a.empty()) return std::string(b);
  std::string out(a);
  if (out.back() != '/') out += '/';
  out += b;
  return out;
}

std::vector<std::string> Profile::DecisionTags() const {
  std::vector<std::string> out;
  for (const auto& t : tools) out.push_back(t.tag);
  return out;
}

const ToolSpec* Profile::Tool(std::string_view n) const {
  for (const auto& t : tools)
    if (t.name == n) return &t;
  return nullptr;
}

std::string Profile::SectionTitle(int number) const {
  std::string marker = "[" + std::to_string(number) + "]";
  std::string found;
  for (const auto& line : SplitLines(turn2_template)) {
    std::string s = Strip(line);
    if (s.rfind(marker, 0) != 0) continue;
    size_t colon = s.find(':');
    if (colon == std::string::npos) continue;
    found =
        Strip(s.substr(marker.size(), colon - marker.size()));  // the last one: the output format
  }
  if (found.empty())
    throw std::runtime_error("profile " + name + ": the turn-2 template has no '" + marker +
                             " <title>:' line");
  return found;
}

Profile LoadProfile(const std::string& name_or_dir, const fs::path& templates) {
  fs::path dir = name_or_dir;
  if (name_or_dir.find('/') == std::string::npos && !fs::exists(dir / "profile.json"))
    dir = io::ShareDir() / "profiles" / name_or_dir;
  fs::path file = dir / "profile.json";
  if (!fs::exists(file))
    throw std::runtime_error("unknown profile '" + name_or_dir + "': no " + file.string());
  Json j;
  try {
    j = Json::parse(io::ReadFile(file, "profile"));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(file.string() + ": " + e.what());
  }
  Profile p;
  p.dir = dir;
  p.name = j.value("name", dir.filename().string());
  const Json& t = j.at("templates");
  std::string where = t.value("dir", "profile");
  if (where == "profile") {
    p.template_dir = dir;
  } else if (where == "user") {
    if (templates.empty())
      throw std::runtime_error("profile '" + p.name +
                               "' reads the authors' template text from a directory you give with "
                               "--templates DIR (files " +
                               t.value("turn1", std::string()) + ", " +
                               t.value("turn2", std::string()) + "); we do not ship it");
    p.template_dir = templates;
  } else {
    throw std::runtime_error(file.string() + ": templates.dir must be \"profile\" or \"user\"");
  }
  p.turn1_template =
      io::ReadFile(p.template_dir / t.at("turn1").get<std::string>(), "turn-1 template");
  p.turn2_template =
      io::ReadFile(p.template_dir / t.at("turn2").get<std::string>(), "turn-2 template");
  if (t.contains("description_block") && t["description_block"].is_string()) {
    fs::path b = p.template_dir / t["description_block"].get<std::string>();
    if (fs::exists(b)) p.description_block = io::ReadFile(b, "description block");
  }
  if (j.contains("system_prompt") && j["system_prompt"].is_string())
    p.system_prompt = j["system_prompt"];
  for (const auto& tool : j.at("tools")) {
    ToolSpec s{tool.at("name"), tool.at("tag"), tool.at("kind")};
    Expect(s.kind == "frames" || s.kind == "candidates" || s.kind == "text",
           file.string() + ": tool kind must be frames|candidates|text, not " + s.kind);
    p.tools.push_back(std::move(s));
  }
  if (j.contains("candidates")) {
    p.candidate_style = j["candidates"].value("style", p.candidate_style);
    p.candidate_join = j["candidates"].value("join", p.candidate_join);
    Expect(p.candidate_style == "authors" || p.candidate_style == "ours" ||
               p.candidate_style == "definition-first",
           file.string() + ": candidates.style must be authors|ours|definition-first");
  }
  if (j.contains("frame_notes"))
    for (auto& [k, v] : j["frame_notes"].items()) p.frame_notes[k] = v.get<std::string>();
  if (j.contains("annotated_path") && j["annotated_path"].is_object())
    p.annotated_root = j["annotated_path"].value("root", std::string());
  if (j.contains("turn2")) {
    p.turn2_frames = j["turn2"].value("frames", p.turn2_frames);
    p.turn2_context = j["turn2"].value("context", p.turn2_context);
  }
  Expect(p.turn2_frames == "selected" || p.turn2_frames == "original",
         file.string() + ": turn2.frames must be selected|original");
  Expect(p.turn2_context == "fresh" || p.turn2_context == "continued" ||
             p.turn2_context == "continued-video",
         file.string() + ": turn2.context must be fresh|continued|continued-video");
  if (j.contains("sampling")) {
    p.turn1_sampling =
        ReadSampling(j["sampling"].value("turn1", Json()), file.string() + " sampling.turn1");
    p.turn2_sampling =
        ReadSampling(j["sampling"].value("turn2", Json()), file.string() + " sampling.turn2");
  }
  p.answer_rule = ParseAnswerRule(j.value("answer", std::string("clean")));
  p.reward_variant = j.value("reward", p.reward_variant);
  Expect(p.reward_variant == "paper" || p.reward_variant == "official",
         file.string() + ": reward must be paper|official");
  return p;
}

void ProfileOptions::Register(CLI::App& app) {
  app.add_option("--profile", profile,
                 "Profile name (share/vstar/profiles) or directory: clean (default), official, "
                 "official-grpo, official-grpo-4tool, official-sft, official-teacher");
  app.add_option("--templates", templates,
                 "Directory with the authors' template text, needed by the official profiles");
  app.add_option(
      "--annotated-root", annotated_root,
      "official profiles: root joined with the record path for the annotated-video text");
}

Profile ProfileOptions::Load() const {
  Profile p = LoadProfile(profile, templates);
  if (!annotated_root.empty()) {
    if (!p.annotated_root)
      throw std::runtime_error("--annotated-root: profile '" + p.name +
                               "' puts no path in the prompt");
    p.annotated_root = annotated_root;
  }
  return p;
}

}  // namespace vstar::recog
