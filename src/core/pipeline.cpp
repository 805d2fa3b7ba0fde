#include "core/pipeline.h"

#include <algorithm>
#include <cmath>
#include <future>

#include <opencv2/imgproc.hpp>

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

DecodedImage decode_for_cutout(std::span<const uint8_t> bytes, const RemoveOptions& options,
                               StageTimings& t) {
  effective_background(options);  // reject bad options before any work
  Stopwatch watch;
  DecodeOptions decode_options = options.decode;
  decode_options.rgba = true;  // so that the cut-out is made in place (JPEGs decode into RGBA)
  DecodedImage decoded = decode_image(bytes, decode_options);
  t.decode_ms += watch.elapsed_ms();
  return decoded;
}

namespace {

// The subject: pixels at least 16/255 opaque. SPEC §4 says alpha > 0, but both models leave a haze
// of alpha 1-8 that nobody can see (on grabcut/person1 it reaches every edge of the photo with
// isnet-qdq, the top 19 rows short of it with isnet), and one such pixel would make the crop a
// no-op. From 16 up the two models' boxes agree to a pixel there.
constexpr double kSubjectAlpha = 16;

cv::Rect subject_box(const cv::Mat& rgba, int margin_percent) {
  cv::Mat alpha;
  cv::extractChannel(rgba, alpha, 3);
  cv::threshold(alpha, alpha, kSubjectAlpha - 1, 255, cv::THRESH_BINARY);
  cv::Rect box = cv::boundingRect(alpha);  // non-zero pixels of an 8-bit image
  if (box.empty()) return {0, 0, rgba.cols, rgba.rows};
  const int dx = box.width * margin_percent / 100, dy = box.height * margin_percent / 100;
  box = cv::Rect(box.x - dx, box.y - dy, box.width + 2 * dx, box.height + 2 * dy);
  return box & cv::Rect(0, 0, rgba.cols, rgba.rows);
}

}  // namespace

cv::Mat finish_cutout(DecodedImage decoded, cv::Mat matte, const RemoveOptions& options, StageTimings& t) {
  Stopwatch watch;
  cv::Mat cutout = std::move(decoded.pixels);
  if (options.refine != RefineMethod::kNone || options.decontaminate) {
    const EdgeGrid grid = make_edge_grid(cutout);
    refine_matte(cutout, grid, matte, options.refine);
    if (options.refine != RefineMethod::kNone) t.refine_ms += watch.lap_ms();
    if (options.decontaminate) {
      decontaminate(cutout, grid, matte);
      t.decontaminate_ms += watch.lap_ms();
    }
  }
  cut_out_in_place(cutout, matte);
  if (options.crop_subject) cutout = cutout(subject_box(cutout, options.margin_percent)).clone();
  const int longest = std::max(cutout.cols, cutout.rows);
  if (options.max_side > 0 && longest > options.max_side) {
    const double scale = static_cast<double>(options.max_side) / longest;
    cutout = shrink_rgba(cutout, {std::max(1, static_cast<int>(std::lround(cutout.cols * scale))),
                                  std::max(1, static_cast<int>(std::lround(cutout.rows * scale)))});
  }
  t.compose_ms += watch.elapsed_ms();
  return cutout;
}

std::vector<NamedOutput> render_outputs(const cv::Mat& cutout, const RemoveOptions& options, StageTimings& t,
                                        const OutputReadyFn& on_ready) {
  const Rgba background = effective_background(options);
  const std::vector<Effect> effects =
      options.effects.empty() ? std::vector<Effect>{Effect::kColor} : options.effects;
  const size_t n = effects.size() + (options.mask ? 1 : 0);
  std::vector<NamedOutput> outputs(n);
  std::vector<double> render_ms(n, 0.0), encode_ms(n, 0.0);
  Stopwatch wall;
  auto render = [&](size_t i) {
    Stopwatch watch;
    if (i == effects.size()) {
      cv::Mat alpha;
      cv::extractChannel(cutout, alpha, 3);
      outputs[i] = {"mask", encode_image(alpha, OutputFormat::kPng, options.encode)};
    } else {
      const EffectImage image = apply_effect(effects[i], cutout, options.effect_params);
      render_ms[i] = watch.lap_ms();
      outputs[i] = {std::string(effect_name(effects[i])),
                    encode_effect_image(image, options.format, background, options.encode)};
    }
    encode_ms[i] = watch.lap_ms();
    if (on_ready) on_ready(outputs[i].name, render_ms[i] + encode_ms[i]);
  };
  // One task per output on threads of our own, not cv::parallel_for_: OpenCV runs a parallel_for_
  // nested in another one sequentially, which made the 12 MP PNG encoder single-threaded.
  std::vector<std::future<void>> tasks;
  for (size_t i = 1; i < n; ++i) tasks.push_back(std::async(std::launch::async, render, i));
  render(0);
  for (auto& task : tasks) task.get();  // rethrows a task's exception
  t.effects_ms += wall.elapsed_ms();
  for (size_t i = 0; i < effects.size(); ++i) t.effect_ms.emplace_back(effects[i], render_ms[i]);
  for (double ms : encode_ms) t.encode_ms += ms;
  return outputs;
}

RemoveResult remove_background(std::span<const uint8_t> bytes, const RemoveOptions& options,
                               MattePredictor& predictor) {
  Stopwatch total;
  RemoveResult result;
  StageTimings& t = result.timings;
  DecodedImage decoded = decode_for_cutout(bytes, options, t);
  result.width = decoded.pixels.cols;
  result.height = decoded.pixels.rows;
  cv::Mat matte = predictor.predict_matte(decoded.pixels, t);
  const cv::Mat cutout = finish_cutout(std::move(decoded), std::move(matte), options, t);
  result.outputs = render_outputs(cutout, options, t);
  t.total_ms = total.elapsed_ms();
  return result;
}

}  // namespace cutout
