#include "core/compose.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/pixel_math.h"

namespace cutout {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

void check_inputs(const cv::Mat& image, const cv::Mat& matte) {
  if (image.depth() != CV_8U || (image.channels() != 3 && image.channels() != 4)) {
    throw Error(ErrorCode::kInternal, "compose: image must be 8-bit RGB or RGBA");
  }
  if (matte.type() != CV_8UC1 || matte.size() != image.size()) {
    throw Error(ErrorCode::kInternal, "compose: matte must be 8-bit and the image's size");
  }
}

}  // namespace

Rgba parse_background(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "transparent") return {0, 0, 0, 0};
  if (lower == "white") return {255, 255, 255, 255};
  if (lower == "black") return {0, 0, 0, 255};
  if ((lower.size() == 7 || lower.size() == 9) && lower[0] == '#') {
    uint8_t v[4] = {0, 0, 0, 255};
    bool ok = true;
    for (size_t i = 1; i < lower.size(); i += 2) {
      int hi = hex_value(lower[i]), lo = hex_value(lower[i + 1]);
      if (hi < 0 || lo < 0)
        ok = false;
      else
        v[(i - 1) / 2] = static_cast<uint8_t>(hi * 16 + lo);
    }
    if (ok) return {v[0], v[1], v[2], v[3]};
  }
  throw Error(ErrorCode::kInvalidArgument, "invalid background '" + std::string(text) +
                                               "' (allowed: transparent, white, black, #RRGGBB, #RRGGBBAA)");
}

namespace {

// One row of cut_out, with the channel count known at compile time so the loop vectorises
// (a run-time stride made the 12 MP cut-out 6x slower).
template <int kChannels>
void cut_out_row(const uint8_t* src, const uint8_t* m, uint8_t* dst, int width) {
  for (int x = 0; x < width; ++x, src += kChannels, dst += 4) {
    uint32_t a = m[x];
    if constexpr (kChannels == 4) a = mul_div255(a * src[3]);
    // Branch-free select: zero colour where alpha is 0.
    const uint8_t keep = a ? 0xff : 0x00;
    dst[0] = src[0] & keep;
    dst[1] = src[1] & keep;
    dst[2] = src[2] & keep;
    dst[3] = static_cast<uint8_t>(a);
  }
}

}  // namespace

cv::Mat cut_out(const cv::Mat& image, const cv::Mat& matte) {
  check_inputs(image, matte);
  cv::Mat out(image.size(), CV_8UC4);
  const bool rgba = image.channels() == 4;
  cv::parallel_for_(cv::Range(0, image.rows), [&](const cv::Range& rows) {
    for (int y = rows.start; y < rows.end; ++y) {
      if (rgba)
        cut_out_row<4>(image.ptr<uint8_t>(y), matte.ptr<uint8_t>(y), out.ptr<uint8_t>(y), image.cols);
      else
        cut_out_row<3>(image.ptr<uint8_t>(y), matte.ptr<uint8_t>(y), out.ptr<uint8_t>(y), image.cols);
    }
  });
  return out;
}

void cut_out_in_place(cv::Mat& rgba, const cv::Mat& matte) {
  check_inputs(rgba, matte);
  if (rgba.channels() != 4) throw Error(ErrorCode::kInternal, "cut_out_in_place: image must be RGBA");
  cv::parallel_for_(cv::Range(0, rgba.rows), [&](const cv::Range& rows) {
    for (int y = rows.start; y < rows.end; ++y) {
      // Each pixel as one 32-bit word (alpha in the top byte on little-endian machines), so that
      // the loop vectorises over whole pixels (edges_bench, 12 MP: 20.6 → 8.5 ms).
      static_assert(std::endian::native == std::endian::little, "RGBA byte order assumes little-endian");
      uint8_t* p = rgba.ptr<uint8_t>(y);
      const uint8_t* m = matte.ptr<uint8_t>(y);
      for (int x = 0; x < rgba.cols; ++x) {
        uint32_t px;
        std::memcpy(&px, p + 4 * x, 4);
        const uint32_t a = mul_div255(m[x] * (px >> 24));
        px = a ? (px & 0x00ffffffu) | (a << 24) : 0u;
        std::memcpy(p + 4 * x, &px, 4);
      }
    }
  });
}

namespace {

// One row of an opaque composite; compile-time channels so that the loop vectorises.
template <int kChannels>
void composite_opaque_row(const uint8_t* src, const uint8_t* m, uint8_t* dst, int width,
                          const uint32_t bgc[3]) {
  for (int x = 0; x < width; ++x, src += kChannels, dst += 3) {
    uint32_t a = m[x];
    if constexpr (kChannels == 4) a = mul_div255(a * src[3]);
    for (int c = 0; c < 3; ++c) dst[c] = static_cast<uint8_t>(mul_div255(src[c] * a + bgc[c] * (255 - a)));
  }
}

// Straight-alpha "over" on a translucent background: a_out = a + bg_a (1 - a), colour weighted
// by coverage. Rare (only #RRGGBBAA backgrounds), so kept simple.
void composite_translucent_row(const uint8_t* src, int channels, const uint8_t* m, uint8_t* dst, int width,
                               const uint32_t bgc[3], uint32_t bg_alpha) {
  for (int x = 0; x < width; ++x, src += channels, dst += 4) {
    uint32_t a = m[x];
    if (channels == 4) a = mul_div255(a * src[3]);
    const uint32_t bg_w = mul_div255(bg_alpha * (255 - a));  // background's share, 0-255
    const uint32_t a_out = a + bg_w;
    for (int c = 0; c < 3; ++c) {
      dst[c] = a_out ? static_cast<uint8_t>((src[c] * a + bgc[c] * bg_w + a_out / 2) / a_out) : 0;
    }
    dst[3] = static_cast<uint8_t>(a_out);
  }
}

// composite() with the matte given as a row function, so that flatten() needs no full-size matte.
template <typename MatteRow>
cv::Mat composite_rows(const cv::Mat& image, MatteRow matte_row, Rgba bg) {
  const bool opaque = bg.a == 255;
  cv::Mat out(image.size(), opaque ? CV_8UC3 : CV_8UC4);
  const int channels = image.channels();
  const uint32_t bgc[3] = {bg.r, bg.g, bg.b};
  cv::parallel_for_(cv::Range(0, image.rows), [&](const cv::Range& rows) {
    for (int y = rows.start; y < rows.end; ++y) {
      const uint8_t* src = image.ptr<uint8_t>(y);
      const uint8_t* m = matte_row(y);
      uint8_t* dst = out.ptr<uint8_t>(y);
      if (!opaque)
        composite_translucent_row(src, channels, m, dst, image.cols, bgc, bg.a);
      else if (channels == 4)
        composite_opaque_row<4>(src, m, dst, image.cols, bgc);
      else
        composite_opaque_row<3>(src, m, dst, image.cols, bgc);
    }
  });
  return out;
}

}  // namespace

cv::Mat composite(const cv::Mat& image, const cv::Mat& matte, Rgba bg) {
  check_inputs(image, matte);
  if (bg.a == 0) return cut_out(image, matte);
  return composite_rows(
      image, [&](int y) { return matte.ptr<uint8_t>(y); }, bg);
}

cv::Mat shrink_rgba(const cv::Mat& rgba, cv::Size size) {
  if (rgba.type() != CV_8UC4) throw Error(ErrorCode::kInternal, "shrink_rgba: image must be RGBA");
  // Premultiply into 16 bits (colour * alpha / 255 keeps 8 bits of precision only at full alpha).
  cv::Mat premultiplied(rgba.size(), CV_16UC4);
  cv::parallel_for_(cv::Range(0, rgba.rows), [&](const cv::Range& rows) {
    for (int y = rows.start; y < rows.end; ++y) {
      const uint8_t* src = rgba.ptr<uint8_t>(y);
      uint16_t* dst = premultiplied.ptr<uint16_t>(y);
      for (int x = 0; x < rgba.cols * 4; x += 4) {
        const uint32_t a = src[x + 3];
        for (int c = 0; c < 3; ++c) dst[x + c] = static_cast<uint16_t>(src[x + c] * a);  // <= 65025
        dst[x + 3] = static_cast<uint16_t>(a * 257);
      }
    }
  });
  cv::Mat small;
  cv::resize(premultiplied, small, size, 0, 0, cv::INTER_AREA);
  cv::Mat out(size, CV_8UC4);
  cv::parallel_for_(cv::Range(0, size.height), [&](const cv::Range& rows) {
    for (int y = rows.start; y < rows.end; ++y) {
      const uint16_t* src = small.ptr<uint16_t>(y);
      uint8_t* dst = out.ptr<uint8_t>(y);
      for (int x = 0; x < size.width * 4; x += 4) {
        const uint32_t a = (src[x + 3] + 128) / 257;
        for (int c = 0; c < 3; ++c)
          dst[x + c] = a ? static_cast<uint8_t>(std::min<uint32_t>(255, (src[x + c] + a / 2) / a)) : 0;
        dst[x + 3] = static_cast<uint8_t>(a);
      }
    }
  });
  return out;
}

cv::Mat flatten(const cv::Mat& rgba, Rgba bg) {
  if (rgba.type() != CV_8UC4) throw Error(ErrorCode::kInternal, "flatten: image must be RGBA");
  if (bg.a == 0) return rgba.clone();
  // The image's own alpha is multiplied by an all-opaque matte row.
  const std::vector<uint8_t> opaque_row(static_cast<size_t>(rgba.cols), 255);
  return composite_rows(
      rgba, [&](int) { return opaque_row.data(); }, bg);
}

cv::Mat with_drop_shadow(const cv::Mat& rgba, double opacity) {
  if (rgba.type() != CV_8UC4) throw Error(ErrorCode::kInternal, "with_drop_shadow: image must be RGBA");
  const double longest = std::max(rgba.cols, rgba.rows);
  cv::Mat alpha;
  cv::extractChannel(rgba, alpha, 3);
  const cv::Mat shift =
      (cv::Mat_<double>(2, 3) << 1, 0, std::round(0.01 * longest), 0, 1, std::round(0.02 * longest));
  cv::Mat shadow;
  cv::warpAffine(alpha, shadow, shift, alpha.size(), cv::INTER_NEAREST, cv::BORDER_CONSTANT, cv::Scalar(0));
  cv::GaussianBlur(shadow, shadow, {0, 0}, std::max(0.5, 0.015 * longest));
  cv::Mat out(rgba.size(), CV_8UC4);
  const float k = static_cast<float>(opacity) / 255.0f;
  out.forEach<cv::Vec4b>([&](cv::Vec4b& px, const int* pos) {
    const cv::Vec4b f = rgba.at<cv::Vec4b>(pos[0], pos[1]);
    const float a = f[3] / 255.0f, s = shadow.at<uint8_t>(pos[0], pos[1]) * k;
    const float out_a = a + s * (1.0f - a);  // the subject over a black shadow
    if (out_a <= 0.0f) {
      px = {0, 0, 0, 0};
      return;
    }
    for (int c = 0; c < 3; ++c) px[c] = static_cast<uint8_t>(std::lround(f[c] * a / out_a));
    px[3] = static_cast<uint8_t>(std::lround(out_a * 255.0f));
  });
  return out;
}

cv::Mat cover_fit(const cv::Mat& photo, cv::Size size) {
  const double scale =
      std::max(static_cast<double>(size.width) / photo.cols, static_cast<double>(size.height) / photo.rows);
  cv::Mat scaled;
  cv::resize(photo, scaled,
             {std::max(size.width, static_cast<int>(std::ceil(photo.cols * scale))),
              std::max(size.height, static_cast<int>(std::ceil(photo.rows * scale)))},
             0, 0, cv::INTER_AREA);
  const cv::Rect crop((scaled.cols - size.width) / 2, (scaled.rows - size.height) / 2, size.width,
                      size.height);
  if (scaled.channels() == 3) return scaled(crop).clone();
  cv::Mat rgb;
  cv::cvtColor(scaled(crop), rgb, cv::COLOR_RGBA2RGB);
  return rgb;
}

}  // namespace cutout
