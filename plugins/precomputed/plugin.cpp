// `precomputed`: explanations (kind explain) and descriptions (kind describe) read from user files,
// e.g. the authors' class dicts and per-video *_description.json.
#include <vstar/plugin.h>

#include "precomputed.hpp"

VSTAR_PLUGIN_FACTORY(vstar::precomputed::CreatePrecomputedTool)
