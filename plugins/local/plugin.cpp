// `local`: the offline default explainer over vstar's own knowledge base (share/vstar/kb/).
#include <vstar/plugin.h>

#include "kb.hpp"

VSTAR_PLUGIN(vstar::local::LocalExplainer)
