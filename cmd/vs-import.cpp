// vs-import: the authors' question files or plain class/clip folders -> manifest JSONL on stdout
// (or -o) and a class-list file (man vs-import).
#include <CLI/CLI.hpp>

#include "io/cli.hpp"
#include "io/log.hpp"
#include "io/main.hpp"
#include "io/stream.hpp"
#include "recog/dataset.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "Make manifests ({\"id\",\"video\",\"label\",\"split\",...}) and class lists from datasets"};
  vstar::io::SetupApp(app, "vs-import");
  app.require_subcommand(1);
  app.fallthrough();
  vstar::io::StreamOptions stream;  // -o for the manifest; -i adds question files to `authors`
  stream.Register(app, /*selects_records=*/false);  // reads whole streams: no --shard/--resume
  std::string classes_out;
  app.add_option("--classes-out", classes_out,
                 "Write the class list here (JSON array of {name, explanation})");

  vstar::recog::AuthorsImport a;
  auto* authors = app.add_subcommand("authors", "The authors' question file (+ class dict)");
  std::vector<std::string> questions;
  authors->add_option("questions", questions, "Question file(s) (JSON arrays); -i adds more")
      ->check(CLI::ExistingFile);
  authors->add_option("--classes", a.class_dict, "Class dict {\"0\": \"Name: description\", ...}")
      ->check(CLI::ExistingFile);
  authors->add_option("--root", a.root, "Dataset root the paths are relative to");
  authors->add_option("--split", a.split, "Value of \"split\" (default: the file's stem)");
  authors
      ->add_option("--label-from", a.label_from,
                   "solution (default) or folder (fixes swapped labels)")
      ->check(CLI::IsMember({"solution", "folder"}));

  vstar::recog::FolderImport f;
  auto* folders =
      app.add_subcommand("folders", "A plain dataset folder: <dir>/<class>/<clip>.<ext>");
  folders->add_option("dir", f.dir, "Dataset folder")->required();
  folders->add_option("--ext", f.exts, "Clip extensions (avi mp4 mkv webm mov)")->delimiter(',');
  folders->add_option("--split", f.split, "Value of \"split\" (default: all)");
  folders->add_option("--names", f.names, "folders.tsv mapping folder names to display names")
      ->check(CLI::ExistingFile);
  folders->add_option("--root", f.root,
                      "Write \"video\" relative to this root (default: absolute)");
  folders
      ->add_option("--classes", f.classes,
                   "Only the classes of this list (display or folder names); the class list "
                   "written is this list")
      ->check(CLI::ExistingFile);
  folders
      ->add_option("--list", f.list,
                   "Only the clips this file lists (<class>/<clip>.<ext> per line, as UCF-101's "
                   "testlist01.txt)")
      ->check(CLI::ExistingFile);
  folders->add_option("--per-class", f.per_class,
                      "At most N clips of each class, the first in name order (0 = all)");
  return vstar::io::Main(app, argc, argv, [&] {
    questions.insert(questions.end(), stream.inputs.begin(), stream.inputs.end());
    auto r = authors->parsed() ? vstar::recog::ImportAuthors(a, questions)
                               : vstar::recog::ImportFolders(f);
    vstar::recog::WriteImport(r, stream.output, classes_out);
    vstar::log::Info(r.records.size(), " records, ", r.classes.size(), " classes");
    return vstar::io::kExitOk;
  });
}
