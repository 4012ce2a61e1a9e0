// A plugin that claims an ABI number other than the host's: the loader must refuse it.
#include <vstar/plugin.h>

namespace {
class Stale : public vstar::plugin::Detector {
 public:
  explicit Stale(const vstar::plugin::Config&) {}
  vstar::plugin::Info info() const override { return {"wrongabi", vstar::plugin::Kind::kDetect, "0", "", {}}; }
  std::vector<std::vector<vstar::plugin::Box>> Detect(const std::vector<vstar::plugin::Image>& f) override {
    return std::vector<std::vector<vstar::plugin::Box>>(f.size());
  }
};
std::unique_ptr<vstar::plugin::Tool> Create(const vstar::plugin::Config& c) { return std::make_unique<Stale>(c); }
}  // namespace

namespace stale_export {
const int abi = ::vstar::plugin::kAbiVersion + 100;
const ::vstar::plugin::Factory factory = &Create;
}  // namespace stale_export
BOOST_DLL_ALIAS(stale_export::abi, vstar_plugin_abi)
BOOST_DLL_ALIAS(stale_export::factory, vstar_plugin_create)
