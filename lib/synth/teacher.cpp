#include "synth/teacher.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "io/text.hpp"
#include "synth/actions.hpp"
#include "synth/rank.hpp"

namespace vstar::synth {
namespace {

std::string Capitalised(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

// "one forearm: raised, sways side to side" + side "left" -> "- Left forearm: raised, sways side to side"
std::string Bullet(const std::string& key, const std::string& side) {
  const size_t colon = key.find(':');
  std::string part = key.substr(0, colon), movement = colon == std::string::npos ? "" : io::Trim(key.substr(colon + 1));
  if (!side.empty() && part.rfind("one ", 0) == 0) part = side + part.substr(3);
  return "- " + Capitalised(part) + ": " + movement;
}

std::vector<std::string> ClipKeys(const nlohmann::ordered_json& truth) {
  std::vector<std::string> keys;
  for (const auto& e : truth.at("timeline")) {
    const std::string k = e.at("key").get<std::string>();
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  }
  return keys;
}

const ActionClass& Class(const std::string& name) {
  const ActionClass* c = FindClass(name);
  if (!c) throw std::invalid_argument("'" + name + "' is no class of the synthetic world");
  return *c;
}

// 0-10: how well a class's sub-motions and the clip's agree (both directions, so a class that explains
// only part of the clip, or wants movements the clip lacks, scores lower).
int Score(const std::vector<std::string>& clip, const ActionClass& c) {
  const auto keys = SubMotionKeys(c);
  size_t shared = 0;
  for (const auto& k : keys)
    if (std::find(clip.begin(), clip.end(), k) != clip.end()) ++shared;
  const double recall = clip.empty() ? 0 : static_cast<double>(shared) / clip.size();
  const double precision = keys.empty() ? 0 : static_cast<double>(shared) / keys.size();
  return static_cast<int>(std::lround(10.0 * recall * precision));
}

class Teacher final : public plugin::Teacher {
 public:
  Teacher(std::string truth_file, Student student) : file_(std::move(truth_file)), student_(student) {
    std::ifstream in(file_);
    if (!in) throw std::runtime_error("synth teacher: cannot open truth file " + file_);
    size_t n = 0;
    for (std::string line; std::getline(in, line);) {
      ++n;
      if (io::Trim(line).empty()) continue;
      auto j = nlohmann::ordered_json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.contains("id") || !j["id"].is_string())
        throw std::runtime_error("synth teacher: " + file_ + ":" + std::to_string(n) + " is not a truth record");
      std::string id = j["id"].get<std::string>();  // before the move: json's operator= takes its argument by value
      truth_[std::move(id)] = std::move(j);
    }
  }

  plugin::Info info() const override {
    return {"synth", plugin::Kind::kTeacher, "1", "the synthetic world's ground truth as a teacher",
            {{"truth", "truth.jsonl written by vs-synth", ""},
             {"student", "what the student reads: text (motion summary and definitions) or frames (overlays)", "text"}}};
  }

  std::vector<plugin::TeachReply> Teach(const std::vector<plugin::TeachRequest>& requests) override {
    std::vector<plugin::TeachReply> out;
    for (const auto& r : requests) {
      plugin::TeachReply reply;
      reply.source = "synth";
      auto it = truth_.find(r.id);
      if (it == truth_.end()) {
        reply.error = "synth teacher: no truth for id " + r.id + " in " + file_;
      } else {
        try {
          reply.text = r.stage == "turn1" ? TeacherTurn1(it->second, r.candidates, student_) : TeacherTurn2(it->second, r.candidates);
        } catch (const std::exception& e) {
          reply.error = std::string("synth teacher: ") + e.what();
        }
      }
      out.push_back(std::move(reply));
    }
    return out;
  }

 private:
  std::string file_;
  Student student_;
  std::map<std::string, nlohmann::ordered_json> truth_;
};

}  // namespace

std::string TeacherTurn1(const nlohmann::ordered_json& truth, const std::vector<std::string>& candidates,
                         Student student) {
  const auto& n = truth.value("nuisance", nlohmann::ordered_json::object());
  const bool occluded = n.value("occluder", false) || n.value("clutter", 0) >= 10;
  bool unseen = false;
  for (const auto& c : candidates) unseen = unseen || Class(c).novel;
  const bool frames = student == Student::kFrames;
  // What pays depends on what the student can read. One that reads frames gets the movement from the
  // skeleton overlays, a box only when something competes with the person, and definitions only for
  // labels it has not learnt. One that reads text sees the movement only in the motion summary, and
  // tells labels apart by matching it against their definitions, for every candidate list.
  const bool pose = frames, detect = frames && occluded, explain = !frames || unseen, describe = !frames;
  std::ostringstream o;
  o << "<think>\n[1] Scene: one person in a coloured suit; "
    << (ClipKeys(truth).size() > 1 ? "several body parts move." : "one body part moves.") << "\n"
    << "[2] Helper needs: pose_estimation - "
    << (pose ? "the limbs' paths decide between the candidates" : "the description will name the movements")
    << "; person_detection - "
    << (detect ? "something covers part of the scene, a box keeps the person apart from it"
               : !frames ? "a box would not name a movement" : "the person stands out clearly, no box needed")
    << "; action_explanation - "
    << (explain ? (frames ? "some candidate labels are unfamiliar, their definitions are needed"
                          : "the definitions say which movements each label needs")
                : "every candidate label is familiar")
    << "; video_description - "
    << (describe ? "it names each body part's movement in words" : "the skeletons already show the movement")
    << ".\n</think>\n"
    << "<pose_estimation>" << (pose ? "yes" : "no") << "</pose_estimation>\n"
    << "<person_detection>" << (detect ? "yes" : "no") << "</person_detection>\n"
    << "<action_explanation>" << (explain ? "yes" : "no") << "</action_explanation>\n"
    << "<video_description>" << (describe ? "yes" : "no") << "</video_description>";
  return o.str();
}

std::string TeacherTurn2(const nlohmann::ordered_json& truth, const std::vector<std::string>& candidates) {
  const std::string label = truth.at("label").get<std::string>();
  const ActionClass& self = Class(label);
  const auto ranked = RankTruthSubMotions(truth, candidates);
  const auto clip = ClipKeys(truth);
  std::ostringstream o;
  o << "<think>\n[1] Body-part movements:\n";
  for (const auto& r : ranked) o << Bullet(r.key, r.side) << "\n";
  // [2]: the true class, then the candidates sharing the most telling sub-motions, three at most.
  std::vector<const ActionClass*> picked = {&self};
  for (const auto& r : ranked) {
    for (const auto& name : candidates) {
      const ActionClass& c = Class(name);
      if (picked.size() >= 3) break;
      if (std::find(picked.begin(), picked.end(), &c) != picked.end()) continue;
      const auto keys = SubMotionKeys(c);
      if (std::find(keys.begin(), keys.end(), r.key) != keys.end()) picked.push_back(&c);
    }
  }
  auto spelled = [&](const ActionClass& c) {
    for (const auto& name : candidates)
      if (FindClass(name) == &c) return name;
    return c.name;
  };
  o << "[2] Candidate labels:\n";
  for (const auto* c : picked) {
    std::vector<std::string> support;
    const auto keys = SubMotionKeys(*c);
    for (const auto& k : clip)
      if (std::find(keys.begin(), keys.end(), k) != keys.end()) support.push_back(k.substr(0, k.find(':')));
    o << "- " << spelled(*c) << ": "
      << (support.empty() ? std::string("no movement of it is seen") : "fits the movement of the " + [&] {
            std::string s;
            for (size_t i = 0; i < support.size(); ++i) s += (i ? (i + 1 == support.size() ? " and " : ", ") : "") + support[i];
            return s;
          }())
      << "\n";
  }
  o << "[3] Candidate comparison:\n";
  for (const auto* c : picked) {
    const auto keys = SubMotionKeys(*c);
    std::vector<std::string> missing, extra;
    for (const auto& k : keys)
      if (std::find(clip.begin(), clip.end(), k) == clip.end()) missing.push_back(k);
    for (const auto& k : clip)
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) extra.push_back(k);
    o << "- " << spelled(*c) << ": " << Score(clip, *c) << " - ";
    if (missing.empty() && extra.empty()) {
      o << "every movement it needs is seen, in its order";
    } else {
      if (!missing.empty()) o << "it needs " << missing.front() << ", which is not seen";
      if (!missing.empty() && !extra.empty()) o << "; ";
      if (!extra.empty()) o << "it does not explain " << extra.front();
    }
    o << "\n";
  }
  o << "</think>\n<answer>" << spelled(self) << "</answer>";
  return o.str();
}

std::unique_ptr<plugin::Teacher> MakeTeacher(const std::vector<std::string>& opts) {
  std::string truth;
  Student student = Student::kText;
  for (const auto& kv : opts) {
    const size_t eq = kv.find('=');
    const std::string key = kv.substr(0, eq), value = eq == std::string::npos ? "" : kv.substr(eq + 1);
    if (eq != std::string::npos && key == "truth") {
      truth = value;
    } else if (eq != std::string::npos && key == "student" && (value == "text" || value == "frames")) {
      student = value == "text" ? Student::kText : Student::kFrames;
    } else {
      throw std::invalid_argument("synth teacher: unknown option '" + kv +
                                  "' (it takes truth=FILE and student=text|frames)");
    }
  }
  if (truth.empty()) throw std::invalid_argument("synth teacher: give --teacher-opt truth=DIR/truth.jsonl");
  return std::make_unique<Teacher>(truth, student);
}

}  // namespace vstar::synth
