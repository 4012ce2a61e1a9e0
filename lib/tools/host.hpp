#pragma once
// The host services plugins reach through plugin::Config::host (include/vstar/plugin.h, ABI 4): chat
// completions over lib/net's Client, JPEG data URLs (lib/net/image) and class lists (lib/net/classlist).
// One process-wide instance; it registers itself as the plugin loader's default host
// (tools::SetDefaultHost), so every Config handed to a plugin carries it.
#include <vstar/plugin.h>

namespace vstar::net {

const plugin::Host& PluginHost();

}  // namespace vstar::net
