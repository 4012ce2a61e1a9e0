#include "eval/audit.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "io/cache.hpp"
#include "io/log.hpp"
#include "io/main.hpp"
#include "io/stream.hpp"
#include "io/text.hpp"
#include "recog/parse.hpp"
#include "recog/prompt.hpp"
#include "recog/text.hpp"

namespace vstar::eval {
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

Json Finding::ToJson() const {
  Json j;
  j["check"] = check;
  j["file"] = file;
  if (!other.empty()) j["other"] = other;
  j["count"] = count;
  j["total"] = total;
  j["problem"] = problem;
  j["detail"] = detail;
  return j;
}

namespace {

std::string Label(const Json& r) {
  if (r.contains("label") && r["label"].is_string()) return r["label"];
  if (r.contains("solution") && r["solution"].is_string()) return recog::SolutionLabel(r["solution"].get<std::string>());
  return "";
}

std::string PathOf(const Json& r) {
  if (r.contains("path") && r["path"].is_string()) return r["path"];
  if (r.contains("video") && r["video"].is_string()) return r["video"];
  return "";
}

std::string Folder(const std::string& path) {
  fs::path p(path);
  return p.has_parent_path() ? p.parent_path().filename().string() : std::string();
}

std::string Id(const Json& r, size_t i) {
  if (r.contains("id")) return r["id"].is_string() ? r["id"].get<std::string>() : r["id"].dump();
  if (r.contains("problem_id")) return r["problem_id"].dump();
  return std::to_string(i + 1);
}

const Json* Field(const Json& r, const std::string& dotted) {
  const Json* cur = &r;
  size_t pos = 0;
  while (pos <= dotted.size()) {
    size_t dot = dotted.find('.', pos);
    std::string k = dotted.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    if (!cur->is_object() || !cur->contains(k)) return nullptr;
    cur = &(*cur)[k];
    if (dot == std::string::npos) break;
    pos = dot + 1;
  }
  return cur;
}

void Example(Finding& f, const std::string& text) {
  if (!f.detail.contains("examples")) f.detail["examples"] = Json::array();
  if (f.detail["examples"].size() < 5) f.detail["examples"].push_back(text);
}

const char* kSentinel = "\x01" "candidates" "\x01";

}  // namespace

bool Mentions(const std::vector<std::string>& w, const std::string& name) {
  std::vector<std::string> n = recog::Words(name);
  std::string key = recog::LabelKey(name);
  if (n.empty() || key.empty()) return false;
  if (std::find(w.begin(), w.end(), key) != w.end()) return true;
  if (n.size() > w.size()) return false;
  for (size_t i = 0; i + n.size() <= w.size(); ++i)
    if (std::equal(n.begin(), n.end(), w.begin() + static_cast<long>(i))) return true;
  return false;
}

AuditFile LoadAuditFile(const std::string& path) {
  AuditFile f;
  f.name = path;
  std::string text = io::ReadFileOrStdin(path, "audit file");
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '[') {
    Json arr = Json::parse(text);
    for (auto& r : arr) f.records.push_back(std::move(r));
  } else {
    std::istringstream in(text);
    std::string line;
    size_t n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (io::Trim(line).empty()) continue;
      try {
        f.records.push_back(Json::parse(line));
      } catch (const std::exception& e) {
        throw std::runtime_error(path + ":" + std::to_string(n) + ": not valid JSON: " + e.what());
      }
    }
  }
  for (size_t i = 0; i < f.records.size(); ++i)
    if (!f.records[i].is_object() || Label(f.records[i]).empty())
      throw std::runtime_error(path + ": record " + std::to_string(i + 1) + " has no label/solution");
  return f;
}

std::vector<Finding> Audit(const AuditInput& in) {
  std::vector<Finding> out;
  std::vector<const AuditFile*> all;
  for (const auto& f : in.train) all.push_back(&f);
  for (const auto& f : in.test) all.push_back(&f);

  for (const AuditFile* f : all) {
    // Label keys known for this file: its candidate list and its own labels.
    std::map<std::string, std::string> keys;  // key -> a label spelling
    for (const auto& r : f->records) keys.emplace(recog::LabelKey(Label(r)), Label(r));
    if (f->classes)
      for (const auto& c : f->classes->items) keys.emplace(recog::LabelKey(c.name), c.name);
    Finding leak("path-label-leak", f->name), swap("label-folder-mismatch", f->name);
    std::map<std::string, size_t> pairs;
    for (size_t i = 0; i < f->records.size(); ++i) {
      const Json& r = f->records[i];
      std::string folder = Folder(PathOf(r)), label = Label(r);
      ++leak.total;
      ++swap.total;
      if (folder.empty()) continue;
      std::string fk = recog::LabelKey(folder), lk = recog::LabelKey(label);
      if (fk == lk) {
        ++leak.count;
      } else if (keys.count(fk)) {
        ++swap.count;
        ++pairs[folder + " -> " + label];
      }
    }
    if (leak.count) out.push_back(leak);
    if (swap.count) {
      for (const auto& [k, v] : pairs) swap.detail["pairs"][k] = v;
      out.push_back(swap);
    }
  }

  // Training labels outside the training prompt's candidate list.
  for (const auto& f : in.train) {
    if (!f.classes) continue;
    Finding o("label-outside-candidates", f.name);
    std::map<std::string, size_t> per;
    for (const auto& r : f.records) {
      ++o.total;
      if (!f.classes->Find(Label(r))) {
        ++o.count;
        ++per[Label(r)];
      }
    }
    o.detail["classes_outside"] = per.size();
    o.detail["candidates"] = f.classes->size();
    if (o.count) out.push_back(o);
  }

  // Identical training files, then train/test overlap by video file name.
  std::vector<std::set<std::string>> train_names;
  for (size_t a = 0; a < in.train.size(); ++a) {
    std::set<std::string> names;
    for (const auto& r : in.train[a].records) names.insert(fs::path(PathOf(r)).filename().string());
    train_names.push_back(std::move(names));
    for (size_t b = 0; b < a; ++b)
      if (in.train[a].records == in.train[b].records) {
        Finding d("identical-files", in.train[b].name, in.train[a].name);
        d.count = d.total = in.train[a].records.size();
        d.problem = false;
        out.push_back(d);
      }
  }
  for (const auto& t : in.test) {
    for (size_t a = 0; a < in.train.size(); ++a) {
      bool dup = false;  // report each identical training file once
      for (size_t b = 0; b < a; ++b) dup |= in.train[a].records == in.train[b].records;
      if (dup) continue;
      Finding o("train-test-overlap", t.name, in.train[a].name);
      for (const auto& r : t.records) {
        ++o.total;
        if (train_names[a].count(fs::path(PathOf(r)).filename().string())) ++o.count;
      }
      if (o.count) out.push_back(o);
    }
  }

  // What the model sees: rendered prompts and named fields.
  if (in.profile || !in.fields.empty()) {
    for (const AuditFile* f : all) {
      Finding p("label-in-prompt", f->name);
      std::vector<std::string> t1_words;
      std::optional<recog::Profile> prof = in.profile;
      recog::ClassList sentinel;
      sentinel.items.push_back({kSentinel, "", kSentinel});
      if (prof) {
        t1_words = recog::Words(recog::RenderTurn1(*prof));
        if (prof->annotated_root && prof->annotated_root->empty()) prof->annotated_root = f->root;
      }
      for (size_t i = 0; i < f->records.size(); ++i) {
        const Json& r = f->records[i];
        std::string label = Label(r), folder = Folder(PathOf(r));
        ++p.total;
        std::string where;
        if (prof) {
          recog::Turn2Input t2;
          t2.candidates = &sentinel;
          t2.tools = recog::ChooseTools(*prof, "", recog::ToolMode::kAll);
          t2.path = PathOf(r);
          t2.solution = r.contains("solution") && r["solution"].is_string() ? r["solution"].get<std::string>()
                                                                             : "<answer>" + label + "</answer>";
          std::string text = recog::RenderTurn2(*prof, t2);
          // Teacher prompts carry the answer by design; everything else must not.
          text = recog::ReplaceAll(text, kSentinel, "");
          auto w = recog::Words(text);
          if (Mentions(t1_words, label) || Mentions(t1_words, folder)) where = "turn 1";
          else if (Mentions(w, label)) where = "turn 2 (label)";
          else if (!folder.empty() && Mentions(w, folder)) where = "turn 2 (class folder)";
        }
        for (const auto& field : in.fields) {
          if (!where.empty()) break;
          const Json* v = Field(r, field);
          if (!v) continue;
          std::string s = v->is_string() ? v->get<std::string>() : v->dump();
          auto w = recog::Words(s);
          if (Mentions(w, label) || (!folder.empty() && Mentions(w, folder))) where = "field " + field;
        }
        if (!where.empty()) {
          ++p.count;
          Json& slot = p.detail["where"][where];
          slot = slot.is_number() ? slot.get<size_t>() + 1 : size_t{1};
          Example(p, Id(r, i) + " (" + label + "): " + where);
        }
      }
      if (prof) p.detail["profile"] = prof->name;
      out.push_back(p);  // reported even when zero: the check ran
      if (!p.count) out.back().problem = false;
    }
  }
  return out;
}

void AuditOptions::Register(CLI::App& app) {
  app.add_option("--train", train, "Training file(s): question arrays or manifests");
  app.add_option("--test", test, "Evaluation file(s)");
  app.add_option("--classes", classes, "Candidate list of the training prompts");
  app.add_option("--test-classes", test_classes, "Candidate list of the evaluation prompts");
  app.add_option("--official", official, "The authors' data directory (AFile layout): audit every file and pairing");
  app.add_option("--field", fields, "Record field the model sees (dotted path, repeatable), checked for the label");
  app.add_flag("--render", render, "Render each record's prompts with --profile and check them");
  profile.Register(app);
  app.add_option("--markdown", markdown, "Also write a markdown summary here");
}

AuditInput OfficialLayout(const std::string& data_dir) {
  fs::path d = data_dir;
  if (!fs::exists(d / "sft.json")) throw std::runtime_error(data_dir + ": no sft.json (not the authors' data dir)");
  auto file = [&](const std::string& rel, const std::string& classes) {
    AuditFile f = LoadAuditFile((d / rel).string());
    f.name = rel;
    if (!classes.empty()) f.classes = recog::LoadClassList(d / classes);
    fs::path pt = (d / rel).parent_path() / "path.txt";
    if (fs::exists(pt)) f.root = io::Trim(io::ReadFile(pt, "dataset root"));
    return f;
  };
  AuditInput in;
  const std::string hb = "json/hmdb51/train_rephrased.json", hn = "json/hmdb51/test_rephrased.json";
  const std::string hs = "json_split/hmdb51/hmdb_rephrased_classes.json";
  const std::string ub = "json/ucf101/train_rephrased.json", un = "json/ucf101/test_rephrased.json";
  const std::string us = "json_split/ucf101/ucf101_rephrased_classes.json";
  in.train.push_back(file("sft.json", hb));
  in.train.push_back(file("rl.json", hb));
  for (auto& f : in.train) f.root = io::Trim(io::ReadFile(d / "json/hmdb51/path.txt", "dataset root"));
  in.train.push_back(file("json/ucf101/train.json", ub));
  in.train.push_back(file("json/SSv2/train.json", "json/SSv2/train_rephrased.json"));
  in.test.push_back(file("json/hmdb51/val.json", hb));
  in.test.push_back(file("json/hmdb51/test.json", hn));
  for (const char* s : {"1", "2", "3", "full"})
    in.test.push_back(file(std::string("json_split/hmdb51/hmdb_exp_split_") + s + ".json", hs));
  in.test.push_back(file("json/ucf101/val.json", ub));
  in.test.push_back(file("json/ucf101/test.json", un));
  for (const char* s : {"1", "2", "3"}) in.test.push_back(file(std::string("json_split/ucf101/ucf_split_") + s + ".json", us));
  in.test.push_back(file("json/SSv2/test.json", "json/SSv2/test_rephrased.json"));
  for (const char* s : {"1", "2", "3"})
    in.test.push_back(file(std::string("json_split/Kinetics-600-val/k600_split_") + s + ".json",
                           std::string("json_split/Kinetics-600-val/k600_split") + s + "_rephrased_classes.json"));
  return in;
}

namespace {

std::string Markdown(const std::vector<Finding>& fs) {
  std::ostringstream md;
  md << "# Audit\n\n| check | file | other | count | total | % | problem |\n|---|---|---|---|---|---|---|\n";
  for (const auto& f : fs) {
    char pct[16];
    std::snprintf(pct, sizeof pct, "%.2f", f.total ? 100.0 * static_cast<double>(f.count) / static_cast<double>(f.total) : 0.0);
    md << "| " << f.check << " | " << f.file << " | " << f.other << " | " << f.count << " | " << f.total << " | " << pct
       << " | " << (f.problem ? "yes" : "no") << " |\n";
  }
  return md.str();
}

}  // namespace

namespace {

// Every file the options name, loaded; a file that cannot be read or parsed is a usage error (exit 2):
// the command line named it.
AuditInput LoadInput(const AuditOptions& opt, const std::vector<std::string>& inputs) {
  AuditInput in;
  try {
    if (!opt.official.empty()) in = OfficialLayout(opt.official);
    for (const auto& t : opt.train) {
      in.train.push_back(LoadAuditFile(t));
      if (!opt.classes.empty()) in.train.back().classes = recog::LoadClassList(opt.classes);
    }
    std::vector<std::string> tests = opt.test;
    tests.insert(tests.end(), inputs.begin(), inputs.end());
    for (const auto& t : tests) {
      in.test.push_back(LoadAuditFile(t));
      if (!opt.test_classes.empty()) in.test.back().classes = recog::LoadClassList(opt.test_classes);
    }
    if (opt.render) in.profile = opt.profile.Load();
  } catch (const std::exception& e) {
    throw io::UsageError(e.what());
  }
  if (in.train.empty() && in.test.empty())
    throw io::UsageError("nothing to audit: give --official DIR, --train or --test files");
  in.fields = opt.fields;
  return in;
}

}  // namespace

int RunAudit(const AuditOptions& opt, const io::StreamOptions& stream) {
  auto findings = Audit(LoadInput(opt, stream.inputs));
  Json report;
  report["findings"] = Json::array();
  size_t problems = 0;
  for (const auto& f : findings) {
    report["findings"].push_back(f.ToJson());
    problems += f.problem;
  }
  report["problems"] = problems;
  const std::string text = report.dump(1) + "\n";
  if (stream.output == "-") std::cout << text << std::flush;
  else io::WriteFileAtomic(stream.output, text);
  if (!opt.markdown.empty()) io::WriteFileAtomic(opt.markdown, Markdown(findings));
  log::Info(problems ? "problems found: " : "no problems found", problems ? std::to_string(problems) : "");
  return problems ? io::kExitRecordErrors : io::kExitOk;
}

}  // namespace vstar::eval
