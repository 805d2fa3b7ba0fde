// Putting the cut-out together: alpha from the matte, or the subject on a background colour.
//
// Pure functions, thread-safe; they split rows across OpenCV's thread pool.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string_view>

#include <opencv2/core.hpp>

namespace cutout {

struct Rgba {
  uint8_t r = 0, g = 0, b = 0, a = 0;
  bool operator==(const Rgba&) const = default;
};

// "transparent", "white", "black", "#RRGGBB" or "#RRGGBBAA" (case-insensitive hex);
// anything else is Error(kInvalidArgument) naming the accepted forms.
Rgba parse_background(std::string_view text);

// RGBA cut-out of an 8-bit RGB(A) image: alpha = matte (times the source's own alpha, if any).
// The colour of fully transparent pixels is set to 0: invisible, and it makes PNGs much
// smaller and faster to write.
cv::Mat cut_out(const cv::Mat& image, const cv::Mat& matte);

// cut_out() in place, for an RGBA image (its alpha is multiplied): no second full-size buffer.
void cut_out_in_place(cv::Mat& rgba, const cv::Mat& matte);

// The subject over a background colour. An opaque background gives RGB (CV_8UC3); a
// translucent one gives RGBA (straight alpha, "over" operator); a fully transparent one is
// the same as cut_out().
cv::Mat composite(const cv::Mat& image, const cv::Mat& matte, Rgba background);

// `size` times `factor`, each side rounded and at least 1.
inline cv::Size scaled_size(cv::Size size, double factor) {
  return {std::max(1, static_cast<int>(std::lround(size.width * factor))),
          std::max(1, static_cast<int>(std::lround(size.height * factor)))};
}

// Shrinks a straight-alpha RGBA image (area averaging on premultiplied colour, so transparent
// neighbours do not darken the edges); colour is zeroed where alpha ends up 0.
cv::Mat shrink_rgba(const cv::Mat& rgba, cv::Size size);

// An RGBA image over a background colour by its own alpha: RGB for an opaque background,
// RGBA for a translucent one, a copy for a transparent one.
cv::Mat flatten(const cv::Mat& rgba, Rgba background);

// A soft drop shadow under a straight-alpha RGBA cut-out: its alpha offset down and right (1 %
// and 2 % of the longest side), blurred (sigma 1.5 %) and at `opacity`, in black, beneath it. The
// subject's opaque pixels are unchanged. RGBA of the same size.
cv::Mat with_drop_shadow(const cv::Mat& rgba, double opacity = 0.5);

// `photo` (8-bit RGB or RGBA) scaled to cover `size` and centre cropped, RGB: a background picture.
cv::Mat cover_fit(const cv::Mat& photo, cv::Size size);

}  // namespace cutout
