#pragma once
// Turning datasets into manifests (one JSON object per video: "id", "video", "label", "split", ...)
// plus a class-list file (vs-import, man vs-import).
#include <filesystem>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "recog/classlist.hpp"

namespace vstar::recog {

struct ManifestEntry {
  nlohmann::ordered_json record;
};

struct ImportResult {
  std::vector<nlohmann::ordered_json> records;
  ClassList classes;
};

struct AuthorsImport {
  std::string questions;   // the authors' question file (JSON array)
  std::string class_dict;  // optional: their class dict; candidates written in its order
  std::string root;        // where the videos live: "video" = PathJoin(root, path)
  std::string split;       // "split" value (default: the question file's stem)
  std::string label_from = "solution";  // solution | folder (the folder mapped onto the class list)
};
// Throws std::runtime_error on malformed files, or when --label-from folder meets a folder that is no
// class of the list.
ImportResult ImportAuthors(const AuthorsImport& opt);
// ImportAuthors over several question files with the same options: the records of each file in turn,
// and the classes of all, each name once (its first occurrence kept). Throws io::UsageError when
// `questions` is empty.
ImportResult ImportAuthors(const AuthorsImport& opt, const std::vector<std::string>& questions);

struct FolderImport {
  std::string dir;                 // <dir>/<class>/<clip>.<ext>
  std::vector<std::string> exts = {"avi", "mp4", "mkv", "webm", "mov"};
  std::string split = "all";
  std::string names;               // optional folders.tsv: folder TAB display name
  std::string root;                // optional: write "video" relative to this root instead of absolute
  // Subsets (an experiment's split, or a quick run): only the classes of this list (display or folder
  // names; the class list written is this list, in its order), only the clips this file lists (one
  // <class>/<clip>.<ext> per line, anything after whitespace ignored: UCF-101's testlist01.txt as it
  // is), and at most this many clips of each class (the first in name order; 0 = all).
  std::string classes;
  std::string list;
  size_t per_class = 0;
};
// Throws std::runtime_error when `dir` holds no (selected) clips or names a folder missing from `names`.
ImportResult ImportFolders(const FolderImport& opt);

// Writes the manifest as JSONL to `manifest` ("-" = stdout) and, when `classes_file` is not empty, the
// class list there (a JSON array of {name, explanation}); files are replaced atomically.
void WriteImport(const ImportResult& result, const std::string& manifest, const std::string& classes_file);

}  // namespace vstar::recog
