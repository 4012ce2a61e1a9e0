#pragma once
// Class lists as users have them: plain names one per line, "name: description" lines, the authors'
// JSON dicts {"0": "Name: description"}, {"Name": "description"} objects, JSON arrays of strings or of
// {"name", "description"} objects, and "id,name" CSV files (ViFi-CLIP label files).
#include <filesystem>
#include <string>
#include <vector>

#include <vstar/plugin.h>

namespace vstar::net {

// name, description (empty when the list gives none), key (the JSON key or CSV id when the list has
// one, else the 0-based position). The same type plugins get from plugin::Host::ReadClassList.
using ClassEntry = plugin::ClassEntry;

// Throws std::runtime_error naming `source` (and the line for text lists) on malformed input,
// an empty name, or an empty list.
std::vector<ClassEntry> ParseClassList(const std::string& text, const std::string& source);
std::vector<ClassEntry> ReadClassList(const std::filesystem::path& file);

}  // namespace vstar::net
