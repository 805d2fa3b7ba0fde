#include "core/pipeline.h"

#include "core/error.h"
#include "core/timer.h"

namespace cutout {

const EncodedImage& RemoveResult::output(std::string_view name) const {
  for (const auto& o : outputs) {
    if (o.name == name) return o.image;
  }
  throw Error(ErrorCode::kInternal, "no output named " + std::string(name));
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
  const std::vector<Effect> effects = options.effects.empty() ? std::vector<Effect>{Effect::kColor} : options.effects;
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

  const cv::Mat matte = predictor.predict_matte(decoded.pixels, t);

  // The colour cut-out, in place: every effect starts from it.
  watch.restart();
  cv::Mat cutout = std::move(decoded.pixels);
  cut_out_in_place(cutout, matte);
  t.compose_ms = watch.lap_ms();

  std::vector<double> effect_ms;
  const std::vector<EffectImage> images = apply_effects(effects, cutout, options.effect_params, &effect_ms);
  for (size_t i = 0; i < effects.size(); ++i) t.effect_ms.emplace_back(effects[i], effect_ms[i]);
  t.effects_ms = watch.lap_ms();

  const size_t n = effects.size() + (options.mask ? 1 : 0);
  result.outputs.resize(n);
  cv::parallel_for_(cv::Range(0, static_cast<int>(n)), [&](const cv::Range& range) {
    for (int i = range.start; i < range.end; ++i) {
      if (static_cast<size_t>(i) == effects.size()) {
        result.outputs[i] = {"mask", encode_image(matte, OutputFormat::kPng, options.encode)};
        continue;
      }
      NamedOutput& out = result.outputs[i];
      out.name = std::string(effect_name(effects[i]));
      out.image = encode_effect_image(images[i], options.format, background, options.encode);
    }
  });
  t.encode_ms = watch.lap_ms();
  t.total_ms = total.elapsed_ms();
  return result;
}

}  // namespace cutout
