#include "core/pipeline.h"

#include "core/error.h"
#include "core/timer.h"

namespace cutout {

EncodedImage encode_image(const cv::Mat& image, OutputFormat format, const EncodeSettings& settings) {
  EncodedImage out;
  out.format = format;
  switch (format) {
    case OutputFormat::kPng: out.bytes = encode_png(image, settings.png); break;
    case OutputFormat::kWebp: out.bytes = encode_webp(image, settings.webp); break;
    case OutputFormat::kJpeg: out.bytes = encode_jpeg(image, settings.jpeg); break;
  }
  return out;
}

Rgba effective_background(const RemoveOptions& options) {
  if (options.format != OutputFormat::kJpeg) return options.background.value_or(Rgba{0, 0, 0, 0});
  Rgba bg = options.background.value_or(Rgba{255, 255, 255, 255});
  if (bg.a != 255) {
    throw Error(ErrorCode::kInvalidArgument,
                "jpeg has no transparency: choose an opaque background (white, black, #RRGGBB)");
  }
  return bg;
}

RemoveResult remove_background(std::span<const uint8_t> bytes, const RemoveOptions& options,
                               MattePredictor& predictor) {
  const Rgba background = effective_background(options);  // reject bad options before any work
  Stopwatch total;
  RemoveResult result;
  StageTimings& t = result.timings;

  Stopwatch watch;
  DecodeOptions decode_options = options.decode;
  decode_options.rgba = true;  // so that the cut-out is made in place (JPEGs decode into RGBA)
  DecodedImage decoded = decode_image(bytes, decode_options);
  t.decode_ms = watch.lap_ms();
  result.width = decoded.pixels.cols;
  result.height = decoded.pixels.rows;

  cv::Mat matte = predictor.predict_matte(decoded.pixels, t);

  watch.restart();
  cv::Mat composed;
  if (background.a == 0) {
    cut_out_in_place(decoded.pixels, matte);
    composed = std::move(decoded.pixels);
  } else {
    composed = composite(decoded.pixels, matte, background);
    decoded.pixels.release();  // the largest buffer; not needed past this point
  }
  t.compose_ms = watch.lap_ms();

  result.cutout = encode_image(composed, options.format, options.encode);
  if (options.mask) {
    result.mask = encode_image(matte, OutputFormat::kPng, options.encode);
  }
  t.encode_ms = watch.lap_ms();
  t.total_ms = total.elapsed_ms();
  return result;
}

}  // namespace cutout
