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

// The dither effect's 8x8 Bayer (ordered dither) index matrix, anchored at the image origin: a
// level is ink where level / 254 < (value + 0.5) / 64. It holds 0..63 once each and is the
// standard recursive one: M(2n) = [[4 M(n), 4 M(n) + 2], [4 M(n) + 3, 4 M(n) + 1]], M(1) = [0].
// clang-format off
inline constexpr uint8_t kBayerMatrix[8][8] = {
    { 0, 32,  8, 40,  2, 34, 10, 42},
    {48, 16, 56, 24, 50, 18, 58, 26},
    {12, 44,  4, 36, 14, 46,  6, 38},
    {60, 28, 52, 20, 62, 30, 54, 22},
    { 3, 35, 11, 43,  1, 33,  9, 41},
    {51, 19, 59, 27, 49, 17, 57, 25},
    {15, 47,  7, 39, 13, 45,  5, 37},
    {63, 31, 55, 23, 61, 29, 53, 21},
};
// clang-format on

// Rec. 601 luminance of one RGB(A) pixel with OpenCV's 14-bit fixed-point weights, so it equals
// cv::cvtColor(COLOR_RGBA2GRAY) exactly. 0-255.
inline int luma(const uint8_t* px) {
  return (px[0] * 4899 + px[1] * 9617 + px[2] * 1868 + (1 << 13)) >> 14;
}

}  // namespace cutout::detail
