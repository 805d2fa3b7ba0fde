#include "core/output_encode.h"

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/pixel_math.h"

namespace cutout {
namespace {

std::array<uint8_t, 4> over(const std::array<uint8_t, 4>& c, Rgba bg) {
  const uint32_t a = c[3];
  std::array<uint8_t, 4> out{};
  const uint8_t bgc[3] = {bg.r, bg.g, bg.b};
  for (int i = 0; i < 3; ++i) out[i] = static_cast<uint8_t>(mul_div255(c[i] * a + bgc[i] * (255 - a)));
  out[3] = 255;
  return out;
}

cv::Mat palette_as_rgb(const cv::Mat& indices, const std::vector<std::array<uint8_t, 4>>& palette) {
  cv::Mat out(indices.size(), CV_8UC3);
  for (int y = 0; y < indices.rows; ++y) {
    const uint8_t* idx = indices.ptr<uint8_t>(y);
    uint8_t* dst = out.ptr<uint8_t>(y);
    for (int x = 0; x < indices.cols; ++x, dst += 3) {
      const auto& c = palette.at(idx[x]);
      dst[0] = c[0], dst[1] = c[1], dst[2] = c[2];
    }
  }
  return out;
}

}  // namespace

int palette_bit_depth(size_t entries) {
  if (entries <= 2) return 1;
  if (entries <= 4) return 2;
  if (entries <= 16) return 4;
  return 8;
}

EncodedImage encode_image(const cv::Mat& image, OutputFormat format, const EncodeSettings& settings) {
  EncodedImage out;
  out.format = format;
  switch (format) {
    case OutputFormat::kPng:
      out.bytes = encode_png(image, settings.png);
      break;
    case OutputFormat::kWebp:
      out.bytes = encode_webp(image, settings.webp);
      break;
    case OutputFormat::kJpeg:
      out.bytes = encode_jpeg(image, settings.jpeg);
      break;
  }
  return out;
}

EncodedImage encode_effect_image(const EffectImage& image, OutputFormat format, Rgba bg,
                                 const EncodeSettings& settings) {
  const bool opaque_bg = bg.a == 255;
  if (bg.a != 0 && !opaque_bg && format != OutputFormat::kJpeg) {
    // A translucent background: composite in RGBA.
    return encode_image(flatten(image.to_rgba(), bg), format, settings);
  }
  using Kind = EffectImage::Kind;
  if (image.kind == Kind::kIndexed) {
    std::vector<std::array<uint8_t, 4>> palette = image.palette;
    if (opaque_bg) {
      for (auto& c : palette) c = over(c, bg);  // composite the palette, not the pixels
    }
    if (format == OutputFormat::kPng) {
      EncodedImage out;
      out.format = format;
      out.bytes = encode_png_indexed(image.pixels, palette, palette_bit_depth(palette.size()), settings.png);
      return out;
    }
    if (opaque_bg) return encode_image(palette_as_rgb(image.pixels, palette), format, settings);
    EffectImage recoloured = image;
    recoloured.palette = palette;
    return encode_image(recoloured.to_rgba(), format, settings);
  }
  if (!opaque_bg) {
    // Transparent: grey+alpha stays 2-channel for PNG; WebP expands it itself.
    return encode_image(image.pixels, format, settings);
  }
  // Opaque background: flatten. A grey result on a grey background stays one channel.
  const cv::Mat flat = flatten(image.to_rgba(), bg);
  if (image.kind == Kind::kGreyAlpha && bg.r == bg.g && bg.g == bg.b) {
    cv::Mat grey;
    cv::extractChannel(flat, grey, 0);
    return encode_image(grey, format, settings);
  }
  return encode_image(flat, format, settings);
}

}  // namespace cutout
