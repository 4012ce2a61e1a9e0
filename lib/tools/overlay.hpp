#pragma once
// Annotated frames the way ultralytics `Results.plot` draws them, as the Video-STAR annotation scripts
// call it (github.com/Raymond-Qiancx/Video-STAR, AScripts/YOLO/<dataset>/each_{pose,po,bound}.py):
//   pose  : boxes + 17 keypoints + COCO skeleton, no labels, line width 3, keypoint radius 3
//   po    : keypoints + skeleton only
//   bound : boxes only, default line width (max(round((h+w+3)/2 * 0.003), 2))
// Boxes take the ultralytics class palette (class 0 `person` is #042AFF, blue); keypoints and limbs
// whose confidence is under 0.5 are not drawn.
#include <vector>

#include <opencv2/core.hpp>
#include <vstar/plugin.h>

#include "tools/options.hpp"

namespace vstar::tools {

inline constexpr float kOverlayKeypointConf = 0.5f;

// Draws onto `image` (8-bit BGR) in place. `people` may carry no keypoints (detect results).
void DrawOverlay(cv::Mat& image, Overlay variant, const std::vector<::vstar::plugin::Person>& people);

// The BGR colour ultralytics gives class `cls` in its 20-colour palette.
cv::Scalar ClassColor(int cls);

}  // namespace vstar::tools
