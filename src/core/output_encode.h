// Encoding an effect's result: the smallest exact PNG type, WebP, or JPEG on a background.
//
// PNG types by what the result is (sizes measured in docs/PERFORMANCE.md):
//   colour cut-out        RGBA (RGB on an opaque background)
//   bw (grey + alpha)     grey + alpha (grey alone on an opaque grey background, else RGB)
//   popart, dither        palette with tRNS, at the smallest bit depth for the palette size;
//                         on an opaque background the palette itself is composited, so the
//                         result stays a palette PNG
// Thread-safe: calls may run concurrently (render_outputs in pipeline.h encodes each output on a
// thread of its own). Within one call, compositing onto a background and the PNG encoder's
// stripes run on OpenCV's pool (cv::parallel_for_); WebP may add one libwebp thread
// (WebpOptions::use_threads); JPEG encodes on the calling thread.
#pragma once

#include <optional>
#include <vector>

#include "core/compose.h"
#include "core/effects.h"
#include "core/image_encode.h"

namespace cutout {

struct EncodeSettings {
  PngOptions png;
  WebpOptions webp;
  JpegOptions jpeg;
};

struct EncodedImage {
  std::vector<uint8_t> bytes;
  OutputFormat format = OutputFormat::kPng;
};

// Encodes an 8-bit image of 1-4 channels as it is.
EncodedImage encode_image(const cv::Mat& image, OutputFormat format, const EncodeSettings& settings);

// Encodes an effect result; `background` with alpha 0 (or unset) keeps transparency. JPEG needs
// an opaque background (the caller checks: effective_background()).
EncodedImage encode_effect_image(const EffectImage& image, OutputFormat format, Rgba background,
                                 const EncodeSettings& settings);

// Smallest PNG bit depth (1, 2, 4, 8) for a palette of `entries` colours.
int palette_bit_depth(size_t entries);

}  // namespace cutout
