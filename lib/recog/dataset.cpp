#include "recog/dataset.hpp"

#include <algorithm>
#include <iostream>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "io/cache.hpp"
#include "io/log.hpp"
#include "io/main.hpp"
#include "io/record.hpp"
#include "io/text.hpp"
#include "recog/parse.hpp"
#include "recog/profile.hpp"
#include "recog/text.hpp"

namespace vstar::recog {
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

ImportResult ImportAuthors(const AuthorsImport& opt) {
  Json arr;
  try {
    arr = Json::parse(io::ReadFile(opt.questions, "question file"));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(opt.questions + ": not valid JSON: " + e.what());
  }
  if (!arr.is_array()) throw std::runtime_error(opt.questions + ": expected a JSON array of questions");
  ImportResult r;
  if (!opt.class_dict.empty()) r.classes = LoadClassList(opt.class_dict);
  if (opt.label_from == "folder" && r.classes.items.empty())
    throw std::runtime_error("--label-from folder needs --classes (the folder is mapped onto a class name)");
  std::string split = opt.split.empty() ? fs::path(opt.questions).stem().string() : opt.split;
  std::string stem = fs::path(opt.questions).stem().string();
  std::vector<std::string> seen;  // labels in order, when no class dict is given
  for (size_t i = 0; i < arr.size(); ++i) {
    const Json& q = arr[i];
    std::string where = opt.questions + " record " + std::to_string(i + 1);
    if (!q.is_object() || !q.contains("path") || !q["path"].is_string() || !q.contains("solution") ||
        !q["solution"].is_string())
      throw std::runtime_error(where + ": needs string \"path\" and \"solution\"");
    std::string path = q["path"], label = SolutionLabel(q["solution"].get<std::string>());
    if (opt.label_from == "folder") {
      size_t slash = path.find('/');
      if (slash == std::string::npos) throw std::runtime_error(where + ": path has no class folder: " + path);
      auto hit = r.classes.Find(path.substr(0, slash));
      if (!hit) throw std::runtime_error(where + ": folder '" + path.substr(0, slash) + "' is no class of the list");
      label = r.classes.items[*hit].name;
    } else if (!r.classes.items.empty()) {
      if (auto hit = r.classes.Find(label)) label = r.classes.items[*hit].name;
    }
    Json rec;
    std::string pid = q.contains("problem_id") ? q["problem_id"].dump() : std::to_string(i + 1);
    rec["id"] = stem + ":" + pid;
    rec["video"] = PathJoin(opt.root, path);
    rec["label"] = label;
    rec["split"] = split;
    rec["path"] = path;  // kept for the official profile and for vs-audit; never shown by clean
    if (q.contains("problem_id")) rec["problem_id"] = q["problem_id"];
    if (q.contains("problem_type")) rec["problem_type"] = q["problem_type"];
    r.records.push_back(std::move(rec));
    if (std::find(seen.begin(), seen.end(), label) == seen.end()) seen.push_back(label);
  }
  if (r.classes.items.empty())
    for (const auto& l : seen) r.classes.items.push_back({l, "", ""});
  return r;
}

ImportResult ImportFolders(const FolderImport& opt) {
  fs::path dir = opt.dir;
  if (!fs::is_directory(dir)) throw std::runtime_error("not a directory: " + opt.dir);
  std::map<std::string, std::string> display;
  if (!opt.names.empty()) {
    for (const auto& line : SplitLines(io::ReadFile(opt.names, "folder names"))) {
      size_t tab = line.find('\t');
      if (tab == std::string::npos) continue;
      display[line.substr(0, tab)] = Strip(line.substr(tab + 1));
    }
  }
  std::optional<ClassList> keep;
  if (!opt.classes.empty()) keep = LoadClassList(opt.classes);
  std::set<std::string> listed;
  if (!opt.list.empty()) {
    for (const auto& line : SplitLines(io::ReadFile(opt.list, "clip list"))) {
      std::string path = Strip(line);
      path = path.substr(0, path.find_first_of(" \t"));
      if (!path.empty()) listed.insert(fs::path(path).lexically_normal().generic_string());
    }
  }
  std::vector<fs::path> classes;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory()) classes.push_back(e.path());
  std::sort(classes.begin(), classes.end());
  ImportResult r;
  std::set<std::string> found;
  size_t listed_found = 0;
  for (const auto& cdir : classes) {
    std::string folder = cdir.filename().string();
    std::string label = display.count(folder) ? display[folder] : folder;
    std::vector<fs::path> clips;
    for (const auto& e : fs::directory_iterator(cdir)) {
      if (!e.is_regular_file()) continue;
      std::string ext = Lower(e.path().extension().string());
      if (!ext.empty()) ext.erase(0, 1);
      if (std::find(opt.exts.begin(), opt.exts.end(), ext) != opt.exts.end()) clips.push_back(e.path());
    }
    if (clips.empty()) continue;  // not a class folder
    if (!opt.names.empty() && !display.count(folder))
      throw std::runtime_error("folder '" + folder + "' is not in " + opt.names);
    if (keep) {
      auto at = keep->Find(label);
      if (!at) at = keep->Find(folder);
      if (!at) continue;
      label = keep->items[*at].name;
    }
    std::sort(clips.begin(), clips.end());
    size_t taken = 0;
    for (const auto& clip : clips) {
      fs::path rel = fs::relative(clip, dir);
      if (!opt.list.empty()) {
        if (!listed.count(rel.lexically_normal().generic_string())) continue;
        ++listed_found;
      }
      if (opt.per_class && taken == opt.per_class) break;
      ++taken;
      Json rec;
      rec["id"] = (rel.parent_path() / rel.stem()).string();
      fs::path abs = fs::absolute(clip).lexically_normal();
      rec["video"] = opt.root.empty() ? abs.string() : fs::relative(abs, fs::absolute(opt.root)).string();
      rec["label"] = label;
      rec["split"] = opt.split;
      rec["path"] = rel.string();
      r.records.push_back(std::move(rec));
    }
    if (taken && !keep) r.classes.items.push_back({label, "", ""});
    if (taken) found.insert(label);
  }
  if (r.records.empty())
    throw std::runtime_error("no clips under " + opt.dir + " (class/clip.ext" +
                             (keep || !opt.list.empty() ? ", of the selected classes or listed clips)" : ")"));
  if (keep) {
    r.classes = *keep;
    size_t missing = 0;
    for (const auto& c : keep->items) missing += !found.count(c.name);
    if (missing)
      log::Warn(missing, " of the ", keep->size(), " classes of ", opt.classes, " have no clips under ", opt.dir);
  }
  if (!opt.list.empty() && !opt.per_class && listed_found < listed.size())
    log::Warn(listed.size() - listed_found, " of the ", listed.size(), " clips of ", opt.list, " are not under ",
              opt.dir, " (or not of the selected classes)");
  return r;
}

ImportResult ImportAuthors(const AuthorsImport& opt, const std::vector<std::string>& questions) {
  if (questions.empty()) throw io::UsageError("authors: give at least one question file");
  ImportResult r;
  for (const auto& q : questions) {
    AuthorsImport one = opt;
    one.questions = q;
    auto part = ImportAuthors(one);
    r.records.insert(r.records.end(), part.records.begin(), part.records.end());
    for (const auto& c : part.classes.items)
      if (!r.classes.Find(c.name)) r.classes.items.push_back(c);
  }
  return r;
}

void WriteImport(const ImportResult& result, const std::string& manifest, const std::string& classes_file) {
  std::string text;
  for (const auto& rec : result.records) text += io::Dump(rec) + "\n";
  if (manifest == "-") std::cout << text << std::flush;
  else io::WriteFileAtomic(manifest, text);
  if (!classes_file.empty()) io::WriteFileAtomic(classes_file, result.classes.ToJson().dump(1) + "\n");
}

}  // namespace vstar::recog
