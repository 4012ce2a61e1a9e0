// `openai`: action explanations (kind explain) and video descriptions (kind describe) from any
// OpenAI-compatible chat endpoint, through lib/net's client (retries, cache, --jobs concurrency).
#include <vstar/plugin.h>

#include "net/openai_tools.hpp"

VSTAR_PLUGIN_FACTORY(vstar::net::CreateOpenAITool)
