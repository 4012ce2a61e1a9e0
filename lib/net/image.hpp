#pragma once
// Frames as base64 data URLs for OpenAI-compatible vision requests.
#include <string>
#include <string_view>

#include <vstar/plugin.h>

namespace vstar::net {

// RFC 4648 base64 with padding.
std::string Base64(std::string_view bytes);

// JPEG-encodes an 8-bit BGR frame, shrinking it first (aspect kept, area interpolation) so that its
// longer side is at most `max_side` pixels (0 = keep the size), and returns
// "data:image/jpeg;base64,...". Throws plugin::Error for an empty or malformed image.
std::string JpegDataUrl(const plugin::Image& image, int max_side, int quality);

}  // namespace vstar::net
