#include "policy/decompose.hpp"

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <tuple>

#include <CLI/CLI.hpp>

#include "eval/audit.hpp"
#include "io/log.hpp"
#include "io/paths.hpp"
#include "io/text.hpp"
#include "policy/engine.hpp"
#include "policy/label_alias.hpp"
#include "recog/parse.hpp"
#include "recog/prompt.hpp"
#include "recog/text.hpp"
#include "synth/teacher.hpp"
#include "tools/plugins.hpp"

namespace vstar::policy {
namespace fs = std::filesystem;
using io::Json;

namespace {

constexpr const char* kStage = "vs-decompose";

// The turn with the teacher's instruction appended to its last user message, as a text item of its own.
Turn WithNote(Turn turn, const std::string& note) {
  for (auto it = turn.messages.rbegin(); it != turn.messages.rend(); ++it) {
    if (it->role != "user") continue;
    if (it->is_list) it->items.push_back(model::ChatItem::Text("\n\n" + note));
    else it->text += "\n\n" + note;
    break;
  }
  return turn;
}

// The frame files and rate of a frames object (vs-decode's {"paths", "sample_fps"}).
std::pair<std::vector<std::string>, double> FramesOf(const Json& frames) {
  std::vector<std::string> files;
  if (frames.is_object() && frames.contains("paths") && frames["paths"].is_array())
    for (const auto& p : frames["paths"])
      if (p.is_string()) files.push_back(p.get<std::string>());
  if (files.empty()) throw std::runtime_error("a turn's video has no frame paths");
  double fps = 0;
  if (frames.contains("sample_fps") && frames["sample_fps"].is_number()) fps = frames["sample_fps"].get<double>();
  return {files, fps};
}

// Calls `item(kind, text, video index)` for every item of every message, numbering videos in order.
template <typename F>
void ForEachItem(const model::ChatMessage& m, size_t& video, F&& item) {
  if (!m.is_list) {
    item(model::ChatItem::Kind::kText, m.text, video);
    return;
  }
  for (const auto& it : m.items) {
    if (it.kind == model::ChatItem::Kind::kImage) throw std::runtime_error("teacher turns carry no images");
    item(it.kind, it.text, video);
    if (it.kind == model::ChatItem::Kind::kVideo) ++video;
  }
}

Json MessagesJson(const Turn& turn) {
  Json out = Json::array();
  size_t video = 0;
  for (const auto& m : turn.messages) {
    Json content = Json::array();
    ForEachItem(m, video, [&](model::ChatItem::Kind kind, const std::string& text, size_t v) {
      if (kind == model::ChatItem::Kind::kText) {
        content.push_back({{"type", "text"}, {"text", text}});
        return;
      }
      if (v >= turn.videos.size()) throw std::runtime_error("a turn names more videos than it carries");
      auto [files, fps] = FramesOf(turn.videos[v]);
      Json item = {{"type", "video"}, {"frames", files}};
      if (fps > 0) item["sample_fps"] = fps;
      content.push_back(std::move(item));
    });
    out.push_back({{"role", m.role}, {"content", std::move(content)}});
  }
  return out;
}

Json Assistant(const std::string& text) {
  return {{"role", "assistant"}, {"content", Json::array({Json{{"type", "text"}, {"text", text}}})}};
}

// A "- Name: text" line (leading spaces allowed, as the authors' templates indent their bullets).
bool HasBullet(const std::string& section) {
  size_t pos = 0;
  while (pos <= section.size()) {
    size_t nl = section.find('\n', pos);
    std::string line = io::Trim(section.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
    if (line.rfind("- ", 0) == 0) {
      size_t colon = line.find(':');
      if (colon != std::string::npos && colon > 2 && !io::Trim(line.substr(2, colon - 2)).empty() &&
          !io::Trim(line.substr(colon + 1)).empty())
        return true;
    }
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return false;
}

class EngineTeacher : public plugin::Teacher {
 public:
  explicit EngineTeacher(std::unique_ptr<PolicyEngine> engine)
      : engine_(std::move(engine)), responder_(*engine_, {}) {}

  plugin::Info info() const override {
    return {"policy", plugin::Kind::kTeacher, "1.0", "a local Qwen2.5-VL checkpoint through the policy engine", {}};
  }

  std::vector<plugin::TeachReply> Teach(const std::vector<plugin::TeachRequest>& requests) override {
    std::vector<plugin::TeachReply> out(requests.size());
    // Requests with equal sampling go together (one batch); a vs-decompose call sends one turn's.
    std::vector<Conversation> convs;
    std::vector<size_t> index;
    for (size_t i = 0; i < requests.size(); ++i) {
      try {
        convs.push_back(ConversationOf(requests[i]));
        index.push_back(i);
      } catch (const std::exception& e) {
        out[i].error = e.what();
      }
    }
    if (convs.empty()) return out;
    const auto& first = requests[index.front()];
    model::SamplingOptions so =
        responder_.Effective(recog::Sampling{first.temperature, first.top_p, 0, first.max_tokens, 1.0});
    so.seed = first.seed;
    auto responses = engine_->Respond(convs, so);
    for (size_t k = 0; k < index.size(); ++k) {
      out[index[k]].text = responses[k].text;
      out[index[k]].source = "policy:" + engine_->options().model_dir;
    }
    return out;
  }

 private:
  Conversation ConversationOf(const plugin::TeachRequest& r) const {
    Conversation c;
    for (const auto& m : r.messages) {
      std::vector<model::ChatItem> items;
      for (const auto& item : m.content) {
        switch (item.type) {
          case plugin::ContentItem::Type::kText: items.push_back(model::ChatItem::Text(item.text)); break;
          case plugin::ContentItem::Type::kVideo: {
            items.push_back(model::ChatItem::Video());
            Json frames = {{"paths", item.frames}};
            if (item.sample_fps > 0) frames["sample_fps"] = item.sample_fps;
            c.videos.push_back(engine_->VideoFromFrames(frames));
            break;
          }
          case plugin::ContentItem::Type::kImage:
            throw std::runtime_error("the policy teacher reads videos, not single images");
        }
      }
      c.messages.push_back(model::ChatMessage::List(m.role, std::move(items)));
    }
    return c;
  }

  std::unique_ptr<PolicyEngine> engine_;
  EngineResponder responder_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Options

void DecomposeOptions::Register(CLI::App& app) {
  profile.Register(app);
  app.add_option("--teacher-profile", teacher_profile,
                 "Profile whose templates render the teacher's turns in full (default: the student profile's "
                 "teacher.turn1.txt/teacher.turn2.txt, or official-teacher for the official profiles)")
      ->type_name("NAME|DIR");
  app.add_option("--candidates", candidates,
                 "Candidate class list (any form --classes reads); a record's own \"candidates\" wins")
      ->type_name("FILE");
  app.add_option("--tools", tools, "dynamic (the teacher's turn 1 decides), all, none")
      ->check(CLI::IsMember({"dynamic", "all", "none"}))
      ->capture_default_str();
  runner.Register(app);
  app.add_option("--teacher", teacher, "Teacher: a plugin of kind teacher (openai, ...), policy (a local checkpoint) or synth (the synthetic world's truth file: --teacher-opt truth=FILE)")
      ->required();
  app.add_option("--teacher-model", teacher_model,
                 "The teacher's model: the endpoint's model name (openai) or a checkpoint directory (policy)");
  app.add_option("--teacher-opt", teacher_opts,
                 "Teacher option key=value, repeatable (openai: endpoint, api_key_env, jobs, ...; policy: dtype, "
                 "fps, video_max_pixels)")
      ->type_name("KEY=VALUE");
  app.add_option("--retries", retries, "Further attempts per turn when a chain fails verification (another seed each)")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  app.add_option("--seed", seed, "Seed of the first attempt; attempt k asks with seed + k")->capture_default_str();
  app.add_option("--batch", batch, "Records whose teacher requests are sent together")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--chain", chain,
                 "Turn 2 the student learns: full (the teacher's verified [1]/[2]/[3] chain and answer) or answer "
                 "(only its <answer> block: the ablation without sub-motion reasoning)")
      ->check(CLI::IsMember({"full", "answer"}))
      ->capture_default_str();
  app.add_option("--alias-labels", alias_labels,
                 "Fraction of the records (chosen by id and --seed) whose candidates are renamed, "
                 "throughout the conversation, to made-up names of the conversation's own words, "
                 "new for every record: the student must copy the label whose definition fits "
                 "instead of recalling names it was trained on")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_flag("--allow-label-in-prompt", [this](int64_t) { leak_check = false; },
               "Write records whose student prompt names the ground truth outside the candidate list (the "
               "official profiles' annotated path names the class folder)");
}

TeacherPrompts LoadTeacherPrompts(const recog::Profile& student, const std::string& teacher_profile,
                                  const std::string& templates) {
  TeacherPrompts out;
  std::string name = teacher_profile;
  const fs::path n1 = student.dir / "teacher.turn1.txt", n2 = student.dir / "teacher.turn2.txt";
  if (name.empty() && fs::exists(n1) && fs::exists(n2)) {
    out.note1 = io::ReadFile(n1);
    out.note2 = io::ReadFile(n2);
    if (out.note2.find("{LABEL}") == std::string::npos)
      throw std::runtime_error(n2.string() + " does not name the ground truth ({LABEL})");
    return out;
  }
  if (name.empty() && student.name.rfind("official", 0) == 0) name = "official-teacher";
  if (name.empty())
    throw std::runtime_error("profile " + student.name + " has no teacher templates (teacher.turn1.txt and "
                             "teacher.turn2.txt in " + student.dir.string() + "); give --teacher-profile");
  out.profile = recog::LoadProfile(name, templates);
  if (out.profile->DecisionTags() != student.DecisionTags())
    throw std::runtime_error("teacher profile " + out.profile->name + " asks for other tools than profile " +
                             student.name + " (the teacher's turn 1 is read with the student's decision tags)");
  return out;
}

std::string GroundTruth(const io::Record& record) {
  if (auto l = record.string("label"); l && !recog::Strip(*l).empty()) return recog::Strip(*l);
  if (auto s = record.string("solution")) return recog::SolutionLabel(*s);
  return {};
}

// ---------------------------------------------------------------------------------------------
// Verification

std::string VerifyTurn1(const recog::Profile& profile, const std::string& text) {
  std::string missing;
  for (const auto& d : recog::ParseDecisions(text, profile.DecisionTags()))
    if (!d.found) missing += (missing.empty() ? "" : ", ") + ("<" + d.tag + ">");
  return missing.empty() ? "" : "turn 1 answers no yes/no decision for " + missing;
}

std::string VerifyTurn2(const recog::Profile& profile, const recog::ClassList& candidates, const std::string& truth,
                        const std::string& text) {
  size_t pos[4];
  size_t from = 0;
  for (int k = 1; k <= 3; ++k) {
    pos[k] = text.find("[" + std::to_string(k) + "]", from);
    if (pos[k] == std::string::npos)
      return "section [" + std::to_string(k) + "] is missing" + (k > 1 ? " (or comes before [" + std::to_string(k - 1) + "])" : "");
    from = pos[k] + 3;
  }
  size_t end3 = std::min({text.find("[4]", pos[3]), text.find("</think>", pos[3]), text.find("<answer>", pos[3]),
                          text.size()});
  const size_t ends[4] = {0, pos[2], pos[3], end3};
  for (int k = 1; k <= 3; ++k)
    if (!HasBullet(text.substr(pos[k], ends[k] - pos[k])))
      return "section [" + std::to_string(k) + "] has no \"- Name: text\" bullet line";
  recog::Answer a = recog::ExtractAnswer(text, profile.answer_rule);
  if (!a.found) return "no <answer> block";
  recog::Mapped m = recog::MapAnswer(Untagged(a.text), candidates);
  if (!m.index) return "the answer '" + a.text + "' is " + m.status + " in the candidate list";
  if (m.name != truth) return "the answer '" + m.name + "' is not the ground truth '" + truth + "'";
  return {};
}

std::string AnswerOnly(const recog::Profile& profile, const std::string& text) {
  recog::Answer a = recog::ExtractAnswer(text, profile.answer_rule);
  return "<answer>" + Untagged(a.text) + "</answer>";
}

std::string PromptLeak(const std::string& turn1_text, const std::string& turn2_text, const std::string& candidates_block,
                       const std::string& truth) {
  if (eval::Mentions(recog::Words(turn1_text), truth)) return "the student's turn-1 prompt names the ground truth";
  std::string t2 = candidates_block.empty() ? turn2_text : recog::ReplaceAll(turn2_text, candidates_block, "");
  if (eval::Mentions(recog::Words(t2), truth))
    return "the student's turn-2 prompt names the ground truth outside the candidate list";
  return {};
}

// ---------------------------------------------------------------------------------------------
// Conversions

std::vector<plugin::Message> TeacherMessages(const Turn& turn) {
  std::vector<plugin::Message> out;
  size_t video = 0;
  for (const auto& m : turn.messages) {
    plugin::Message msg{m.role, {}};
    ForEachItem(m, video, [&](model::ChatItem::Kind kind, const std::string& text, size_t v) {
      plugin::ContentItem item;
      if (kind == model::ChatItem::Kind::kText) {
        item.text = text;
      } else {
        if (v >= turn.videos.size()) throw std::runtime_error("a turn names more videos than it carries");
        item.type = plugin::ContentItem::Type::kVideo;
        std::tie(item.frames, item.sample_fps) = FramesOf(turn.videos[v]);
      }
      msg.content.push_back(std::move(item));
    });
    out.push_back(std::move(msg));
  }
  return out;
}

SftConversations SftMessages(const recog::Profile& profile, const Turn& turn1,
                             const std::string& answer1, const Turn& turn2,
                             const std::string& answer2) {
  SftConversations out;
  if (profile.turn2_context == "fresh") {
    out.messages = MessagesJson(turn1);
    out.messages.push_back(Assistant(answer1));
    out.turn2_messages = MessagesJson(turn2);
    out.turn2_messages.push_back(Assistant(answer2));
  } else {
    out.messages = MessagesJson(turn2);  // continued contexts already hold the turn-1 exchange
    out.messages.push_back(Assistant(answer2));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Teachers

std::unique_ptr<plugin::Teacher> MakePolicyTeacher(const std::string& model_dir, const std::vector<std::string>& opts,
                                                   const std::string& device) {
  if (model_dir.empty()) throw std::invalid_argument("--teacher policy needs --teacher-model DIR (a checkpoint)");
  PolicyOptions po;
  po.model_dir = model_dir;
  for (const auto& [k, v] : tools::ParseOptionPairs(opts)) {
    try {
      if (k == "dtype" && (v == "fp32" || v == "bf16")) po.dtype = v;
      else if (k == "fps") po.default_fps = std::stod(v);
      else if (k == "video_max_pixels") po.video_max_pixels = std::stoll(v);
      else throw std::invalid_argument("");
    } catch (const std::logic_error&) {
      throw std::invalid_argument("--teacher-opt " + k + "=" + v +
                                  ": the policy teacher takes dtype=fp32|bf16, fps=N, video_max_pixels=N");
    }
  }
  return std::make_unique<EngineTeacher>(PolicyEngine::Load(po, ResolveDevice(device)));
}

std::unique_ptr<plugin::Teacher> LoadTeacher(const DecomposeOptions& opt, const std::string& device) {
  if (opt.teacher == "policy") return MakePolicyTeacher(opt.teacher_model, opt.teacher_opts, device);
  if (opt.teacher == "synth") return synth::MakeTeacher(opt.teacher_opts);
  auto user = tools::ParseOptionPairs(opt.teacher_opts);  // std::invalid_argument for bad syntax
  plugin::Config config;
  config.kind = plugin::Kind::kTeacher;
  config.model = opt.teacher_model;
  config.device = device;
  config.share_dir = io::ShareDir().string();
  config.values = user;
  auto teacher = tools::LoadAs<plugin::Teacher>(opt.teacher, tools::PluginDirs(opt.runner.plugin_path), config);
  try {
    tools::EffectiveOptions(teacher->info(), user);  // rejects undeclared --teacher-opt keys
  } catch (const tools::PluginError& e) {
    throw std::invalid_argument(e.what());
  }
  return teacher;
}

// ---------------------------------------------------------------------------------------------
// The loop over a batch

struct Decomposer::Pending {
  io::Record* rec;
  recog::ClassList candidates;
  std::string truth;  // the ground truth as the candidate list names it
  Turn student1, teacher1;
  ToolStep tools;
  Turn2 student2;
  Turn teacher2;
  std::string answer[2], source[2];
  int attempts[2] = {0, 0};
  Json rejected = Json::array();
  bool done = false;  // the current turn is verified
  bool failed = false;
};

Decomposer::Decomposer(plugin::Teacher& teacher, recog::Profile student, TeacherPrompts prompts,
                       recog::ClassList candidates, recog::ToolMode mode, tools::ToolRunner& tools,
                       const DecomposeOptions& options)
    : teacher_(teacher),
      student_(std::move(student)),
      prompts_(std::move(prompts)),
      candidates_(std::move(candidates)),
      mode_(mode),
      tools_(tools),
      opt_(options),
      teacher_name_(teacher.info().name) {}

void Decomposer::AskUntilVerified(std::vector<Pending>& pending, bool turn2) {
  const int t = turn2 ? 1 : 0;
  const recog::Profile& sampling_profile = prompts_.profile ? *prompts_.profile : student_;
  const recog::Sampling& s = turn2 ? sampling_profile.turn2_sampling : sampling_profile.turn1_sampling;
  for (auto& p : pending) p.done = false;
  for (int attempt = 0; attempt <= opt_.retries; ++attempt) {
    std::vector<Pending*> asking;
    std::vector<plugin::TeachRequest> requests;
    for (auto& p : pending) {
      if (p.failed || p.done) continue;
      plugin::TeachRequest r;
      r.id = p.rec->id();
      r.stage = turn2 ? "turn2" : "turn1";
      r.messages = TeacherMessages(turn2 ? p.teacher2 : p.teacher1);
      r.label = p.truth;
      r.candidates = p.candidates.Names();
      if (turn2) {
        for (const auto& [name, on] : p.tools.outputs.delivered.use)
          if (on) r.tools.push_back(name);
        r.turn1 = p.answer[0];
      }
      r.record_json = p.rec->text();
      r.seed = opt_.seed + static_cast<uint64_t>(attempt);
      r.temperature = s.temperature;
      r.top_p = s.top_p;
      r.max_tokens = s.max_new_tokens;
      requests.push_back(std::move(r));
      asking.push_back(&p);
    }
    if (asking.empty()) return;
    auto replies = teacher_.Teach(requests);
    if (replies.size() != requests.size())
      throw std::runtime_error("teacher " + teacher_name_ + " returned " + std::to_string(replies.size()) +
                               " replies for " + std::to_string(requests.size()) + " requests");
    for (size_t i = 0; i < asking.size(); ++i) {
      Pending& p = *asking[i];
      const auto& reply = replies[i];
      ++p.attempts[t];
      std::string why = reply.error.empty()
                            ? (turn2 ? VerifyTurn2(student_, p.candidates, p.truth, reply.text)
                                     : VerifyTurn1(student_, reply.text))
                            : "teacher error: " + reply.error;
      if (why.empty()) {
        p.answer[t] = turn2 && opt_.chain == "answer" ? AnswerOnly(student_, reply.text) : reply.text;
        p.source[t] = reply.source;
        p.done = true;
        continue;
      }
      p.rejected.push_back({{"turn", t + 1}, {"seed", requests[i].seed}, {"reason", why}, {"text", reply.text}});
      if (attempt == opt_.retries) {
        p.failed = true;
        p.rec->set("teacher", {{"rejected", p.rejected}});
        p.rec->set_error(kStage, "turn " + std::to_string(t + 1) + ": no verified answer in " +
                                     std::to_string(p.attempts[t]) + " attempt(s); last: " + why);
      }
    }
  }
}

void Decomposer::Run(std::span<io::Record*> batch) {
  std::vector<Pending> pending;
  for (auto* rec : batch) {
    try {
      Pending p{rec,    RecordCandidates(*rec, candidates_),
                {},     {},
                {},     {},
                {},     {},
                {},     {},
                {0, 0}, Json::array(),
                false,  false};
      if (p.candidates.items.empty())
        throw std::runtime_error("no candidate list: give --candidates or a record \"candidates\"");
      std::string truth = GroundTruth(*rec);
      if (truth.empty()) throw std::runtime_error("no ground truth: the record needs \"label\" or \"solution\"");
      recog::Mapped m = recog::MapAnswer(truth, p.candidates);
      if (!m.index) throw std::runtime_error("the ground truth '" + truth + "' is " + m.status + " in the candidate list");
      p.truth = m.name;
      p.student1 = BuildTurn1(student_, *rec);
      p.teacher1 = prompts_.profile ? BuildTurn1(*prompts_.profile, *rec)
                                    : WithNote(p.student1, recog::ReplaceAll(prompts_.note1, "{LABEL}", p.truth));
      pending.push_back(std::move(p));
    } catch (const std::exception& e) {
      rec->set_error(kStage, e.what());
    }
  }
  AskUntilVerified(pending, false);

  for (auto& p : pending) {
    if (p.failed) continue;
    try {
      p.tools = RunTools(student_, mode_, p.answer[0], *p.rec, p.candidates, tools_);
      p.student2 = BuildTurn2(student_, *p.rec, p.student1, p.answer[0], p.tools, p.candidates);
      if (opt_.leak_check) {
        bool explained = false;
        for (const auto& tool : student_.tools)
          if (tool.kind == "candidates") explained = p.tools.outputs.delivered.on(tool.name);
        const auto& ex = p.tools.outputs.explanations;
        std::string block = recog::FormatCandidates(student_, p.candidates, explained, ex.empty() ? nullptr : &ex);
        if (auto why = PromptLeak(UserText(p.student1), p.student2.prompt, block, p.truth); !why.empty())
          throw std::runtime_error(why + " (--allow-label-in-prompt writes it anyway)");
      }
      if (prompts_.profile) {
        // The authors' teacher template shows the raw solution field: "<answer>X</answer>".
        io::Record shown = *p.rec;
        if (!shown.string("solution")) shown.set("solution", "<answer>" + p.truth + "</answer>");
        p.teacher2 = BuildTurn2(*prompts_.profile, shown, p.teacher1, p.answer[0], p.tools, p.candidates).turn;
      } else {
        p.teacher2 = WithNote(p.student2.turn, recog::ReplaceAll(prompts_.note2, "{LABEL}", p.truth));
      }
    } catch (const std::exception& e) {
      p.rec->set_error(kStage, e.what());
      p.failed = true;
    }
  }
  AskUntilVerified(pending, true);

  for (auto& p : pending) {
    if (p.failed) continue;
    Json decisions = Json::object();
    for (const auto& d : p.tools.choice.decisions) decisions[d.tag] = d.yes;
    Json report = {{"name", teacher_name_},
                   {"source", p.source[1]},
                   {"profile", student_.name},
                   {"teacher_profile", prompts_.profile ? prompts_.profile->name : student_.name},
                   {"label", p.truth},
                   {"decisions", decisions},
                   {"turn2_frames", p.student2.frames_variant},
                   {"attempts", {p.attempts[0], p.attempts[1]}},
                   {"rejected", p.rejected}};
    SftConversations sft =
        SftMessages(student_, p.student1, p.answer[0], p.student2.turn, p.answer[1]);
    if (AliasedRecord(p.rec->id(), opt_.alias_labels, opt_.seed)) {
      const auto aliases = LabelAliases(p.candidates.Names(),
                                        ConversationWords({&sft.messages, &sft.turn2_messages}),
                                        p.rec->id(), opt_.seed);
      RenameLabelsInConversation(sft.messages, aliases);
      RenameLabelsInConversation(sft.turn2_messages, aliases);
      report["aliases"] = aliases;
    }
    p.rec->set("messages", sft.messages);
    if (sft.turn2_messages.is_null())
      p.rec->erase("turn2_messages");
    else
      p.rec->set("turn2_messages", sft.turn2_messages);
    p.rec->set("teacher", report);
  }
}

}  // namespace vstar::policy
