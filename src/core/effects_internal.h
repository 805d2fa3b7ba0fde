// Internals shared by the effect implementations (effects.cpp, effect_<name>.cpp); not an API.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "core/effects.h"

namespace cutout::detail {

EffectImage effect_bw(const cv::Mat& cutout, const EffectParams& params);
EffectImage effect_popart(const cv::Mat& cutout, const EffectParams& params);
EffectImage effect_dither(const cv::Mat& cutout, const EffectParams& params);

// A popart palette: four subject tones from dark to light, and the flat background colour.
struct PopartPalette {
  std::string name;
  std::array<std::array<uint8_t, 3>, 4> tones;
  std::array<uint8_t, 3> background;
};
const std::vector<PopartPalette>& popart_palettes();
const PopartPalette& find_popart_palette(const std::string& name);  // throws Error(kInvalidArgument)

// Rec. 601 luminance of one RGB(A) pixel with OpenCV's 14-bit fixed-point weights, so it equals
// cv::cvtColor(COLOR_RGBA2GRAY) exactly. 0-255.
inline int luma(const uint8_t* px) {
  return (px[0] * 4899 + px[1] * 9617 + px[2] * 1868 + (1 << 13)) >> 14;
}

}  // namespace cutout::detail
