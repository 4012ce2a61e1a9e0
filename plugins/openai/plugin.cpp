// `openai`: action explanations (kind explain), video descriptions (kind describe) and teacher chains
// (kind teacher) from any OpenAI-compatible chat endpoint, through the host's chat client (retries,
// cache, --jobs concurrency).
#include <vstar/plugin.h>

#include "openai.hpp"

VSTAR_PLUGIN_FACTORY(vstar::openai::CreateOpenAITool)
