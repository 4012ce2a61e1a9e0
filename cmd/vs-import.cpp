// vs-import: the authors' question files or plain class/clip folders -> manifest JSONL on stdout (or
// -o) and a class-list file (man vs-import).
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include "io/cache.hpp"
#include "io/cli.hpp"
#include "io/log.hpp"
#include "io/record.hpp"
#include "io/stream.hpp"
#include "recog/dataset.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Make manifests ({\"id\",\"video\",\"label\",\"split\",...}) and class lists from datasets"};
  vstar::io::SetupApp(app, "vs-import");
  app.require_subcommand(1);
  app.fallthrough();
  vstar::io::StreamOptions stream;  // -o for the manifest; -i adds question files to `authors`
  stream.Register(app);
  std::string classes_out;
  app.add_option("--classes-out", classes_out, "Write the class list here (JSON array of {name, explanation})");

  vstar::recog::AuthorsImport a;
  auto* authors = app.add_subcommand("authors", "The authors' question file (+ class dict)");
  std::vector<std::string> questions;
  authors->add_option("questions", questions, "Question file(s) (JSON arrays); -i adds more")
      ->check(CLI::ExistingFile);
  authors->add_option("--classes", a.class_dict, "Class dict {\"0\": \"Name: description\", ...}")
      ->check(CLI::ExistingFile);
  authors->add_option("--root", a.root, "Dataset root the paths are relative to");
  authors->add_option("--split", a.split, "Value of \"split\" (default: the file's stem)");
  authors->add_option("--label-from", a.label_from, "solution (default) or folder (fixes swapped labels)")
      ->check(CLI::IsMember({"solution", "folder"}));

  vstar::recog::FolderImport f;
  auto* folders = app.add_subcommand("folders", "A plain dataset folder: <dir>/<class>/<clip>.<ext>");
  folders->add_option("dir", f.dir, "Dataset folder")->required();
  folders->add_option("--ext", f.exts, "Clip extensions (avi mp4 mkv webm mov)")->delimiter(',');
  folders->add_option("--split", f.split, "Value of \"split\" (default: all)");
  folders->add_option("--names", f.names, "folders.tsv mapping folder names to display names")
      ->check(CLI::ExistingFile);
  folders->add_option("--root", f.root, "Write \"video\" relative to this root (default: absolute)");
  VSTAR_PARSE(app, argc, argv);
  vstar::log::SetLevel(vstar::log::ParseLevel(stream.log_level));
  const std::string& out = stream.output;

  try {
    vstar::recog::ImportResult r;
    if (authors->parsed()) {
      questions.insert(questions.end(), stream.inputs.begin(), stream.inputs.end());
      if (questions.empty()) {
        vstar::log::Error("authors: give at least one question file");
        return vstar::io::kExitUsage;
      }
      for (const auto& q : questions) {
        a.questions = q;
        auto one = vstar::recog::ImportAuthors(a);
        r.records.insert(r.records.end(), one.records.begin(), one.records.end());
        for (const auto& c : one.classes.items)
          if (!r.classes.Find(c.name)) r.classes.items.push_back(c);
      }
    } else {
      r = vstar::recog::ImportFolders(f);
    }
    std::string text;
    for (const auto& rec : r.records) text += vstar::io::Dump(rec) + "\n";
    if (out == "-") std::cout << text << std::flush;
    else vstar::io::WriteFileAtomic(out, text);
    if (!classes_out.empty()) vstar::io::WriteFileAtomic(classes_out, r.classes.ToJson().dump(1) + "\n");
    vstar::log::Info("vs-import: ", r.records.size(), " records, ", r.classes.size(), " classes");
    return vstar::io::kExitOk;
  } catch (const std::exception& e) {
    vstar::log::Error(e.what());
    return vstar::io::kExitFatal;
  }
}
