#include "policy/two_turn.hpp"

#include <chrono>
#include <stdexcept>

#include <CLI/CLI.hpp>

#include "recog/parse.hpp"
#include "recog/text.hpp"
#include "tools/stage.hpp"

namespace vstar::policy {
using io::Json;
using Clock = std::chrono::steady_clock;

namespace {

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

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

recog::PolicyTurn TurnOf(const Response& r, double seconds) {
  recog::PolicyTurn t;
  t.text = r.text;
  t.tokens = static_cast<int64_t>(r.tokens.size());
  t.prompt_tokens = r.prompt_tokens;
  t.finish_reason = r.finish_reason;
  t.seconds = seconds;
  return t;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Options

void TwoTurnOptions::Register(CLI::App& app) {
  profile.Register(app);
  app.add_option("--candidates", candidates,
                 "Candidate class list turn 2 chooses from (names, 'name: explanation' or TSV lines, CSV with a "
                 "header, JSON dict/array, or the JSONL of vs-import/vs-explain)")
      ->type_name("FILE");
  app.add_option("--tools", tools, "dynamic (turn 1 decides), all, none (the paper's ablations)")
      ->check(CLI::IsMember({"dynamic", "all", "none"}))
      ->capture_default_str();
  runner.Register(app);
  app.add_flag("--keep-prompts", keep_prompts, "Store each turn's user text in policy.turn*.prompt");
}

recog::ClassList LoadCandidates(const std::string& file) {
  if (file.empty())
    throw std::runtime_error("the two-turn policy needs --candidates FILE (the class list turn 2 chooses from)");
  return recog::LoadClassList(file);
}

recog::ClassList RecordCandidates(const io::Record& record, const recog::ClassList& fallback) {
  if (!record.has("candidates")) return fallback;
  return recog::ClassListFromJson(record.get("candidates"), record.where() + ": \"candidates\"");
}

// ---------------------------------------------------------------------------------------------
// The steps

std::string Untagged(std::string s) {
  const std::string open = "<answer>", close = "</answer>";
  if (s.rfind(open, 0) == 0 && s.size() >= open.size() + close.size() &&
      s.compare(s.size() - close.size(), close.size(), close) == 0)
    s = s.substr(open.size(), s.size() - open.size() - close.size());
  return recog::Strip(s);
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

Turn BuildTurn1(const recog::Profile& profile, const io::Record& rec) {
  Json frames = rec.get("frames");
  if (!frames.is_object()) throw std::runtime_error("record has no frames (run vs-decode first)");
  Turn t;
  t.messages = SystemPrefix(profile);
  t.messages.push_back(model::ChatMessage::List(
      "user", {model::ChatItem::Video(), model::ChatItem::Text(recog::RenderTurn1(profile))}));
  t.videos.push_back(frames);
  return t;
}

ToolStep RunTools(const recog::Profile& profile, recog::ToolMode mode, const std::string& turn1_text,
                  io::Record& record, const recog::ClassList& candidates, tools::ToolRunner& runner) {
  const auto start = Clock::now();
  ToolStep step;
  step.choice = recog::ChooseTools(profile, turn1_text, mode);
  step.outputs = runner.RunChosen(profile, step.choice, record, candidates);
  step.seconds = Seconds(start, Clock::now());
  return step;
}

Turn2 BuildTurn2(const recog::Profile& profile, const io::Record& rec, const Turn& turn1,
                 const std::string& turn1_text, const ToolStep& tools, const recog::ClassList& candidates) {
  Turn2 out;
  Turn& t2 = out.turn;
  t2.messages = SystemPrefix(profile);
  if (profile.turn2_context == "continued") {
    // The authors' GRPO context: the turn-1 text without its video, the turn-1 answer, then turn 2.
    t2.messages.push_back(model::ChatMessage::List("user", {model::ChatItem::Text(recog::RenderTurn1(profile))}));
    t2.messages.push_back(model::ChatMessage::Plain("assistant", turn1_text));
  } else if (profile.turn2_context == "continued-video") {
    // The authors' SFT samples: the turn-1 message as it was (video included), the turn-1 answer, then
    // turn 2 with its own video.
    t2.messages.push_back(turn1.messages.back());
    t2.messages.push_back(model::ChatMessage::Plain("assistant", turn1_text));
    t2.videos = turn1.videos;
  }
  const tools::ToolOutputs& got = tools.outputs;
  recog::Turn2Input in;
  in.candidates = &candidates;
  // The authors' lists show their dict line "Name: description"; explanations produced by a plugin
  // take that form where the list had none.
  recog::ClassList with_lines;
  if (profile.candidate_style == "authors" && !got.explanations.empty()) {
    with_lines = candidates;
    for (auto& c : with_lines.items) {
      auto it = got.explanations.find(c.name);
      if (c.line.empty() && it != got.explanations.end()) c.line = c.name + ": " + it->second;
    }
    in.candidates = &with_lines;
  }
  in.tools = got.delivered;
  in.explanations = got.explanations.empty() ? nullptr : &got.explanations;
  in.description = got.description;
  if (profile.turn2_template.find("{ANNOTATED_VIDEO_PATH}") != std::string::npos) in.path = RecordPath(rec);
  if (profile.turn2_template.find("{original_answer}") != std::string::npos)
    in.solution = rec.string("solution").value_or("");
  out.prompt = recog::RenderTurn2(profile, in);
  out.frames_variant = "original";
  Json video = profile.turn2_frames == "selected"
                   ? tools::OverlayFrames(rec, got.delivered.on("pose"), got.delivered.on("detect"), &out.frames_variant)
                   : rec.get("frames");
  t2.messages.push_back(
      model::ChatMessage::List("user", {model::ChatItem::Video(), model::ChatItem::Text(out.prompt)}));
  t2.videos.push_back(video);
  return out;
}

recog::PolicyRecord MakePolicyRecord(const recog::Profile& profile, recog::ToolMode mode,
                                     const recog::ClassList& candidates, const Response& turn1, const ToolStep& tools,
                                     const Turn2& turn2, const Response& answer, const TurnTimes& times) {
  recog::PolicyRecord p;
  p.profile = profile.name;
  p.tools_mode = ModeName(mode);
  p.turn1 = TurnOf(turn1, times.turn1_s);
  for (size_t k = 0; k < profile.tools.size(); ++k) {
    const auto& d = tools.choice.decisions[k];
    recog::ToolDecision dec{d.tag, d.found ? std::optional<bool>(d.yes) : std::nullopt};
    p.decisions.emplace_back(profile.tools[k].name, std::move(dec));
  }
  p.tools = tools.outputs.report;
  p.turn2_frames = turn2.frames_variant;
  p.turn2 = TurnOf(answer, times.turn2_s);
  recog::Answer a = recog::ExtractAnswer(answer.text, profile.answer_rule);
  p.answer = a.text;
  p.answer_found = a.found;
  p.answer_rule = std::string(recog::AnswerRuleName(profile.answer_rule));
  recog::Mapped m = recog::MapAnswer(Untagged(a.text), candidates);
  if (m.index) p.mapped = m.name;
  p.map_status = m.status;
  p.timing = {{"turn1_s", times.turn1_s},
              {"tools_s", times.tools_s},
              {"turn2_s", times.turn2_s},
              {"total_s", times.turn1_s + times.tools_s + times.turn2_s},
              {"batch", times.batch}};
  return p;
}

// ---------------------------------------------------------------------------------------------
// The loop over a batch

struct TwoTurnPolicy::Pending {
  io::Record* rec;
  recog::ClassList candidates;  // the record's own, else --candidates
  Turn turn1;
  Response answer1;
  ToolStep tools;
  policy::Turn2 turn2;
  Response answer2;
  bool failed = false;
};

TwoTurnPolicy::TwoTurnPolicy(Responder& responder, recog::Profile profile, recog::ClassList candidates,
                             recog::ToolMode mode, tools::ToolRunner& tools, bool keep_prompts)
    : responder_(responder),
      profile_(std::move(profile)),
      candidates_(std::move(candidates)),
      mode_(mode),
      tools_(tools),
      keep_prompts_(keep_prompts) {}

void TwoTurnPolicy::Run(std::span<io::Record*> batch) {
  const auto t0 = Clock::now();
  std::vector<Pending> pending = AskTurn1(batch);
  if (pending.empty()) return;
  const double turn1_s = Seconds(t0, Clock::now());
  RunChosenTools(pending);
  const auto t2 = Clock::now();
  AskTurn2(pending);
  const double turn2_s = Seconds(t2, Clock::now());
  WriteRecords(pending, turn1_s, turn2_s);
}

// The `policy` key of every record that went through both turns.
void TwoTurnPolicy::WriteRecords(std::vector<Pending>& pending, double turn1_s, double turn2_s) {
  for (auto& p : pending) {
    if (p.failed) continue;
    TurnTimes times{turn1_s, p.tools.seconds, turn2_s, pending.size()};
    recog::PolicyRecord record = MakePolicyRecord(profile_, mode_, p.candidates, p.answer1, p.tools,
                                                  p.turn2, p.answer2, times);
    if (keep_prompts_) {
      record.turn1->prompt = UserText(p.turn1);
      record.turn2.prompt = p.turn2.prompt;
    }
    p.rec->set("policy", record.ToJson());
  }
}

// Turn 1 for every record of the batch together; a record that cannot be prepared fails alone.
std::vector<TwoTurnPolicy::Pending> TwoTurnPolicy::AskTurn1(std::span<io::Record*> batch) {
  std::vector<Pending> pending;
  std::vector<Turn> turns;
  for (auto* rec : batch) {
    try {
      Pending p{rec, RecordCandidates(*rec, candidates_), BuildTurn1(profile_, *rec), {}, {}, {},
                {}};
      turns.push_back(p.turn1);
      pending.push_back(std::move(p));
    } catch (const std::exception& e) {
      rec->set_error("vs-policy", e.what());
    }
  }
  if (pending.empty()) return pending;
  std::vector<Response> r = responder_.Respond(turns, profile_.turn1_sampling);
  if (r.size() != pending.size()) throw std::runtime_error("responder returned a wrong number of turn-1 answers");
  for (size_t i = 0; i < pending.size(); ++i) pending[i].answer1 = std::move(r[i]);
  return pending;
}

// The tools each record's turn 1 chose, and its turn 2 built from what they delivered.
void TwoTurnPolicy::RunChosenTools(std::vector<Pending>& pending) {
  for (auto& p : pending) {
    try {
      p.tools = RunTools(profile_, mode_, p.answer1.text, *p.rec, p.candidates, tools_);
      p.turn2 = BuildTurn2(profile_, *p.rec, p.turn1, p.answer1.text, p.tools, p.candidates);
    } catch (const std::exception& e) {
      p.rec->set_error("vs-policy", e.what());
      p.failed = true;
    }
  }
}

// Turn 2 for the records still alive, together.
void TwoTurnPolicy::AskTurn2(std::vector<Pending>& pending) {
  std::vector<Turn> turns;
  for (const auto& p : pending)
    if (!p.failed) turns.push_back(p.turn2.turn);
  if (turns.empty()) return;
  std::vector<Response> r = responder_.Respond(turns, profile_.turn2_sampling);
  if (r.size() != turns.size()) throw std::runtime_error("responder returned a wrong number of turn-2 answers");
  size_t k = 0;
  for (auto& p : pending)
    if (!p.failed) p.answer2 = std::move(r[k++]);
}

}  // namespace vstar::policy
