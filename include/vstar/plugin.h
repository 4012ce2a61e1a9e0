#pragma once
// The vstar plugin SDK: the only header a tool plugin includes.
//
// A plugin is a shared library exporting, through Boost.DLL aliases, `vstar_plugin_abi` (an int) and
// `vstar_plugin_create` (a factory). Use VSTAR_PLUGIN(Class) at namespace scope in one .cpp file
// (the export macros are in <vstar/export.h>, included here).
// The types below are plain C++ (std::string, std::vector), so a plugin must be built with the same
// compiler family and C++ standard library as the host; the ABI number changes whenever any type here
// changes layout, and the host refuses a plugin built against another number.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "vstar/export.h"

namespace vstar::plugin {

inline constexpr int kAbiVersion = 5;

enum class Kind { kDetect, kPose, kExplain, kDescribe, kTeacher };

inline const char* KindName(Kind k) {
  switch (k) {
    case Kind::kDetect: return "detect";
    case Kind::kPose: return "pose";
    case Kind::kExplain: return "explain";
    case Kind::kDescribe: return "describe";
    case Kind::kTeacher: return "teacher";
  }
  return "?";
}

// A frame handed to a tool: 8-bit BGR, interleaved, rows `stride` bytes apart (OpenCV's layout).
struct Image {
  int width = 0;
  int height = 0;
  int stride = 0;
  const std::uint8_t* data = nullptr;
  std::string path;  // where the frame came from (for messages and for tools that read files)
};

struct Box {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;  // source-image pixels
  float score = 0;
  int cls = 0;        // class id in the model's label space
  std::string label;  // class name when the model has names ("person")
};

struct Keypoint {
  float x = 0, y = 0;  // source-image pixels
  float conf = 0;
};

// A detected person with (for pose tools) 17 COCO keypoints in COCO order.
struct Person {
  Box box;
  std::vector<Keypoint> keypoints;
};

// Text produced for one class name (explain) or one video (describe).
struct Text {
  std::string subject;  // the class name or the video id it answers
  std::string text;     // when `found` is false: empty, or offered text (nearest entries) marked by `source`
  bool found = false;   // false = the tool honestly has no answer (never a made-up one)
  std::string source;   // where the text came from (knowledge base entry, model name, file)
  // Non-empty when producing this text failed (network error, malformed answer): the host turns it into
  // an error for the affected record only, so one failed item never costs the others (ABI 2).
  std::string error;
};

// Declared options a plugin understands; the host validates --plugin-opt keys against these.
struct OptionSpec {
  std::string name;
  std::string help;
  std::string default_value;
};

struct Info {
  std::string name;
  Kind kind = Kind::kDetect;
  std::string version;
  std::string description;
  std::vector<OptionSpec> options;
  // Pose tools: true for top-down models, which need person boxes per frame from a detector; the host
  // then passes the record's `detect` boxes or runs a detect plugin first (ABI 3).
  bool top_down = false;
};

class VSTAR_SDK_API Host;

// Configuration handed to the factory. `values` hold --plugin-opt key=value pairs.
struct Config {
  std::string model;   // --model path (may be empty when the plugin needs none)
  std::string device;  // --device as given: "auto" (plugin picks CUDA when available), "cpu", "cuda", "cuda:1"
  std::map<std::string, std::string> values;
  std::string share_dir;  // the host's share/vstar directory (knowledge bases, templates)
  // The kind the host wants. A plugin serving several kinds (e.g. `openai`: explain and describe)
  // returns the matching tool from a factory exported with VSTAR_PLUGIN_FACTORY (ABI 2).
  Kind kind = Kind::kDetect;
  // Services of the host process (HTTP chat client, image encoding, class lists), so plugins need no
  // vstar library. The vstar loader always sets it; it outlives every tool (ABI 4).
  const Host* host = nullptr;

  std::string get(const std::string& key, const std::string& fallback = "") const {
    auto it = values.find(key);
    return it == values.end() ? fallback : it->second;
  }
};

// Plugins report bad input or configuration by throwing this (or any std::exception); the host turns
// it into an error record for the affected video and carries on.
struct VSTAR_SDK_API Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reading a plugin's options (Config::values, else `fallback`), with an Error that names the plugin,
// the key and the value: "hog: option conf must be a number, got 'high'". Numbers are read in the C
// locale and must be the whole value.

namespace detail {

// Option `key` parsed as a T in [min, max] (a bound left at the type's limit is no bound).
template <typename T>
T ParseOption(const Config& config, const std::string& plugin, const std::string& key, T fallback,
              T min, T max, const char* what) {
  auto it = config.values.find(key);
  if (it == config.values.end()) return fallback;
  const std::string& v = it->second;
  T x{};
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  bool ok = ec == std::errc() && end == v.data() + v.size() && x >= min && x <= max;
  if constexpr (std::is_floating_point_v<T>) ok = ok && std::isfinite(x);
  if (ok) return x;
  const bool low = min != std::numeric_limits<T>::lowest(), high = max != std::numeric_limits<T>::max();
  std::ostringstream msg;
  msg << plugin << ": option " << key << " must be " << what;
  if (low && high) msg << " in " << min << ".." << max;
  else if (low) msg << " >= " << min;
  else if (high) msg << " <= " << max;
  msg << ", got '" << v << "'";
  throw Error(msg.str());
}

}  // namespace detail

// A finite number in [min, max].
inline double NumberOption(const Config& config, const std::string& plugin, const std::string& key,
                           double fallback, double min = std::numeric_limits<double>::lowest(),
                           double max = std::numeric_limits<double>::max()) {
  return detail::ParseOption(config, plugin, key, fallback, min, max, "a number");
}

// A whole number in [min, max].
inline long IntegerOption(const Config& config, const std::string& plugin, const std::string& key,
                          long fallback, long min = std::numeric_limits<long>::lowest(),
                          long max = std::numeric_limits<long>::max()) {
  return detail::ParseOption(config, plugin, key, fallback, min, max, "an integer");
}

// true/1/yes or false/0/no.
inline bool FlagOption(const Config& config, const std::string& plugin, const std::string& key,
                       bool fallback) {
  auto it = config.values.find(key);
  if (it == config.values.end()) return fallback;
  const std::string& v = it->second;
  if (v == "true" || v == "1" || v == "yes") return true;
  if (v == "false" || v == "0" || v == "no") return false;
  throw Error(plugin + ": option " + key + " must be true or false, got '" + v + "'");
}

// A class-list entry as the host reads it (names, "Name: description" lines, the authors' JSON dicts,
// "id,name" CSV; see vs-explain(1)).
struct ClassEntry {
  std::string name;
  std::string description;  // empty when the list gives none
  std::string key;          // the JSON key or CSV id when the list has one, else the 0-based position
};

// The outcome of one chat-completions request made through ChatClient (ABI 4).
struct ChatResult {
  bool ok = false;
  std::string content;   // choices[0].message.content when ok
  std::string response;  // the whole response body (JSON text) when ok
  std::string model;     // the model that answered: the response's "model", else the configured one
  bool cached = false;   // served from the host's response cache
  std::string error;     // why it failed (HTTP status, server message, timeout); never the API key
};

// An OpenAI-compatible chat-completions client run by the host: retries with backoff, a response cache
// and bounded concurrency, configured by the client options (Host::ChatOptions) in Config::values.
class VSTAR_SDK_API ChatClient {
 public:
  virtual ~ChatClient() = default;
  // Sends complete request bodies (JSON text; "model" is filled in when absent) and returns one result
  // per body, in order; a failed request fails only its own result. Safe to call from several threads.
  virtual std::vector<ChatResult> Complete(const std::vector<std::string>& request_bodies_json) = 0;
  virtual std::string model() const = 0;  // the configured model name
};

// What the host offers plugins (ABI 4). Methods throw Error for bad input or configuration.
class VSTAR_SDK_API Host {
 public:
  virtual ~Host() = default;
  // A chat client configured from `config.values` (the keys ChatOptions declares) and `config.model`
  // (the model name; wins over values["model"]). Reads the API key named by api_key_env now.
  virtual std::unique_ptr<ChatClient> OpenChat(const Config& config) const = 0;
  // The client option keys OpenChat reads, with defaults (for a plugin's Info::options).
  virtual std::vector<OptionSpec> ChatOptions() const = 0;
  // "data:image/jpeg;base64,..." of an 8-bit BGR frame, first shrunk (aspect kept) so its longer side
  // is at most `max_side` pixels (0 = keep the size); `quality` 1..100.
  virtual std::string JpegDataUrl(const Image& image, int max_side, int quality) const = 0;
  // Reads a class list in any format the host reads for --classes.
  virtual std::vector<ClassEntry> ReadClassList(const std::string& file) const = 0;
  // JpegDataUrl of an image file (a frame vs-decode or an overlay writer wrote), for teachers, which
  // receive frame paths (ABI 5).
  virtual std::string JpegFileDataUrl(const std::string& path, int max_side, int quality) const = 0;
};

// Helpers for text tools, shared by the host and plugins so both match names the same way.

// `s` without leading and trailing ASCII whitespace (plugins link no vstar library, so the SDK carries
// its own; the host's class-list reader trims the same characters on ASCII text).
inline std::string Trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

// Splits a class entry as Explainer::Explain receives it, "Name: description", at the first colon
// (both parts trimmed; description empty when there is no colon).
inline std::pair<std::string, std::string> SplitClassEntry(const std::string& entry) {
  auto colon = entry.find(':');
  if (colon == std::string::npos) return {Trim(entry), ""};
  return {Trim(entry.substr(0, colon)), Trim(entry.substr(colon + 1))};
}

// Lowercase ASCII letters and digits only: "Brush_hair", "brush hair" and "BrushHair" are equal.
inline std::string NormaliseName(const std::string& name) {
  std::string out;
  for (unsigned char c : name)
    if (std::isalnum(c)) out += static_cast<char>(std::tolower(c));
  return out;
}

class VSTAR_SDK_API Tool {
 public:
  virtual ~Tool() = default;
  virtual Info info() const = 0;
};

class VSTAR_SDK_API Detector : public Tool {
 public:
  // One result list per frame, in frame order.
  virtual std::vector<std::vector<Box>> Detect(const std::vector<Image>& frames) = 0;
};

class VSTAR_SDK_API PoseEstimator : public Tool {
 public:
  // `boxes` (may be null) are person boxes per frame from a detector, for top-down models; single-stage
  // models ignore them. One person list per frame, in frame order.
  virtual std::vector<std::vector<Person>> Estimate(const std::vector<Image>& frames,
                                                    const std::vector<std::vector<Box>>* boxes) = 0;
};

class VSTAR_SDK_API Explainer : public Tool {
 public:
  // One Text per class entry, in order; an entry is a class name or "Name: description"
  // (SplitClassEntry).
  virtual std::vector<Text> Explain(const std::vector<std::string>& class_names) = 0;
};

class VSTAR_SDK_API Describer : public Tool {
 public:
  // A description of one video from some of its frames.
  virtual Text Describe(const std::string& video_id, const std::vector<Image>& frames) = 0;
};

// Teachers (ABI 5) write the training conversations vs-decompose turns into SFT records: for each
// record, turn 1 (the tool decisions) and turn 2 (the reasoning chain ending in the answer), knowing
// the ground truth.

// One item of a chat message: text, one image file, or a video given as its frame files.
struct ContentItem {
  enum class Type { kText, kImage, kVideo };
  Type type = Type::kText;
  std::string text;                 // kText
  std::vector<std::string> frames;  // kImage: one file; kVideo: frame files in time order
  double sample_fps = 0;            // kVideo: frames per second of video time (0 = not known)
};

struct Message {
  std::string role;  // system | user | assistant
  std::vector<ContentItem> content;
};

// One question to the teacher. `messages` are what the student will be shown for this turn with the
// teacher's instruction (which states the ground truth) added; the other fields give the same facts
// in structured form, for programmatic teachers.
struct TeachRequest {
  std::string id;     // the record's id
  std::string stage;  // "turn1" (tool decisions) or "turn2" (the chain and the answer)
  std::vector<Message> messages;
  std::string label;                    // the ground-truth class name, as the candidate list spells it
  std::vector<std::string> candidates;  // candidate class names, in list order
  std::vector<std::string> tools;       // turn2: the tools whose output the turn-2 prompt shows
  std::string turn1;                    // turn2: the turn-1 answer being continued
  std::string record_json;              // the whole input record (upstream tool outputs, truth fields)
  std::uint64_t seed = 0;               // differs between retries; sampling teachers use it
  double temperature = 0;               // the profile's sampling for this turn
  double top_p = 1;
  int max_tokens = 1024;
};

struct TeachReply {
  std::string text;    // the teacher's answer, verbatim
  std::string source;  // who answered ("openai:<model>", "synth", ...)
  std::string error;   // non-empty when this request failed (the record becomes an error record)
};

class VSTAR_SDK_API Teacher : public Tool {
 public:
  // One reply per request, in order; a failed request fails only its own reply. Requests of one call
  // belong to different records and are independent.
  virtual std::vector<TeachReply> Teach(const std::vector<TeachRequest>& requests) = 0;
};

using Factory = std::unique_ptr<Tool> (*)(const Config&);

}  // namespace vstar::plugin
