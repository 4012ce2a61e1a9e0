#pragma once
// The host services plugins reach through plugin::Config::host (include/vstar/plugin.h): chat
// completions over lib/net's Client, JPEG data URLs of frames and frame files (lib/net/image) and
// class lists (lib/recog's reader, the one every --classes flag uses). One process-wide instance,
// created on the first call; the plugin loader hands it to every tool whose Config has no host.
#include <vstar/plugin.h>

namespace vstar::tools {

const plugin::Host& PluginHost();

}  // namespace vstar::tools
