#include "tools/host.hpp"

#include <stdexcept>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "net/client.hpp"
#include "net/image.hpp"
#include "recog/classlist.hpp"

namespace vstar::tools {
namespace {

using net::Client;
using net::ClientOptions;
using net::Json;

class HostChat : public plugin::ChatClient {
 public:
  explicit HostChat(ClientOptions options) : client_(std::move(options)) {}

  std::vector<plugin::ChatResult> Complete(const std::vector<std::string>& bodies_json) override {
    std::vector<Json> bodies;
    for (size_t i = 0; i < bodies_json.size(); ++i) {
      try {
        bodies.push_back(Json::parse(bodies_json[i]));
      } catch (const Json::exception& e) {
        throw plugin::Error("chat request " + std::to_string(i) + " is not JSON: " + e.what());
      }
      if (!bodies.back().is_object()) throw plugin::Error("chat request " + std::to_string(i) + " is not a JSON object");
    }
    std::vector<plugin::ChatResult> out;
    for (auto& o : client_.Complete(bodies)) {
      plugin::ChatResult r;
      r.ok = o.ok;
      r.error = o.error;
      r.cached = o.cached;
      if (o.ok) {
        r.content = o.content;
        r.response = o.response.dump();
        auto m = o.response.find("model");
        r.model = m != o.response.end() && m->is_string() ? m->get<std::string>() : client_.options().model;
      }
      out.push_back(std::move(r));
    }
    return out;
  }

  std::string model() const override { return client_.options().model; }

 private:
  Client client_;
};

class NetHost : public plugin::Host {
 public:
  std::unique_ptr<plugin::ChatClient> OpenChat(const plugin::Config& config) const override {
    try {
      return std::make_unique<HostChat>(ClientOptions::FromValues(config.values, config.model));
    } catch (const std::invalid_argument& e) {
      throw plugin::Error(e.what());
    }
  }

  std::vector<plugin::OptionSpec> ChatOptions() const override {
    std::vector<plugin::OptionSpec> specs;
    for (const auto& [k, v] : ClientOptions().ToValues())
      specs.push_back({k, "client setting (see vs-explain(1))", v});
    return specs;
  }

  std::string JpegDataUrl(const plugin::Image& image, int max_side, int quality) const override {
    return net::JpegDataUrl(image, max_side, quality);
  }

  std::string JpegFileDataUrl(const std::string& path, int max_side, int quality) const override {
    cv::Mat m = cv::imread(path, cv::IMREAD_COLOR);
    if (m.empty()) throw plugin::Error("cannot read image " + path);
    plugin::Image image{m.cols, m.rows, static_cast<int>(m.step[0]), m.data, path};
    return net::JpegDataUrl(image, max_side, quality);
  }

  std::vector<plugin::ClassEntry> ReadClassList(const std::string& file) const override {
    try {
      std::vector<plugin::ClassEntry> out;
      for (const auto& c : recog::LoadClassList(file).items) out.push_back({c.name, c.explanation, c.key});
      return out;
    } catch (const std::runtime_error& e) {
      throw plugin::Error(e.what());
    }
  }
};

}  // namespace

const plugin::Host& PluginHost() {
  static const NetHost host;
  return host;
}

}  // namespace vstar::tools
