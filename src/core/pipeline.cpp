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

// The subject: pixels at least 16/255 opaque. SPEC §4 says alpha > 0, but both models leave a haze
// of alpha 1-8 that nobody can see (on grabcut/person1 it reaches every edge of the photo with
// isnet-qdq, the top 19 rows short of it with isnet), and one such pixel would make the crop a
// no-op. From 16 up the two models' boxes agree to a pixel there.
constexpr double kSubjectAlpha = 16;

cv::Rect visible_box(const cv::Mat& rgba) {
  cv::Mat alpha;
  cv::extractChannel(rgba, alpha, 3);
  cv::threshold(alpha, alpha, kSubjectAlpha - 1, 255, cv::THRESH_BINARY);
  return cv::boundingRect(alpha);  // non-zero pixels of an 8-bit image
}

namespace {

cv::Rect subject_box(const cv::Mat& rgba, int margin_percent) {
  cv::Rect box = visible_box(rgba);
  if (box.empty()) return {0, 0, rgba.cols, rgba.rows};
  const int dx = box.width * margin_percent / 100, dy = box.height * margin_percent / 100;
  box = cv::Rect(box.x - dx, box.y - dy, box.width + 2 * dx, box.height + 2 * dy);
  return box & cv::Rect(0, 0, rgba.cols, rgba.rows);
}

}  // namespace

cv::Mat blurred_backdrop(const cv::Mat& rgba, const cv::Mat& matte, int radius) {
  const int longest = std::max(rgba.cols, rgba.rows);
  if (radius <= 0) radius = std::max(1, static_cast<int>(std::lround(0.025 * longest)));
  // At a resolution where the radius is about 4 px: a large blur costs little there.
  const double k = std::min(1.0, 4.0 / radius);
  const cv::Size small = scaled_size(rgba.size(), k);
  cv::Mat colour, weight;
  cv::cvtColor(rgba, colour, cv::COLOR_RGBA2RGB);
  colour.convertTo(colour, CV_32FC3, 1.0 / 255);
  matte.convertTo(weight, CV_32F, -1.0 / 255, 1.0);  // 1 - alpha: the background's share
  cv::resize(colour, colour, small, 0, 0, cv::INTER_AREA);
  cv::resize(weight, weight, small, 0, 0, cv::INTER_AREA);
  const double sigma = std::max(0.5, radius * k / 2.0);
  cv::Mat weighted, plain;
  std::vector<cv::Mat> w3(3, weight);
  cv::Mat weight3;
  cv::merge(w3, weight3);
  cv::GaussianBlur(colour.mul(weight3), weighted, {0, 0}, sigma);
  cv::GaussianBlur(weight, weight, {0, 0}, sigma);
  cv::GaussianBlur(colour, plain, {0, 0}, sigma);
  // Where hardly any background is near (deep inside the subject), the plain blur.
  weighted.forEach<cv::Vec3f>([&](cv::Vec3f& px, const int* pos) {
    const float w = weight.at<float>(pos[0], pos[1]);
    const cv::Vec3f p = plain.at<cv::Vec3f>(pos[0], pos[1]);
    const float t = std::min(1.0f, w / 0.05f);
    px = w > 1e-4f ? (px / w) * t + p * (1.0f - t) : p;
  });
  cv::Mat out;
  cv::resize(weighted, out, rgba.size(), 0, 0, cv::INTER_LINEAR);
  out.convertTo(out, CV_8UC3, 255.0);
  return out;
}

cv::Mat over_picture(const cv::Mat& rgba, const cv::Mat& picture) {
  cv::Mat out(rgba.size(), CV_8UC3);
  out.forEach<cv::Vec3b>([&](cv::Vec3b& px, const int* pos) {
    const cv::Vec4b f = rgba.at<cv::Vec4b>(pos[0], pos[1]);
    const cv::Vec3b b = picture.at<cv::Vec3b>(pos[0], pos[1]);
    for (int c = 0; c < 3; ++c) px[c] = static_cast<uint8_t>((f[c] * f[3] + b[c] * (255 - f[3]) + 127) / 255);
  });
  return out;
}

cv::Mat finish_cutout(DecodedImage decoded, cv::Mat matte, const RemoveOptions& options, StageTimings& t,
                      cv::Mat* backdrop) {
  Stopwatch watch;
  cv::Mat cutout = std::move(decoded.pixels);
  cv::Mat behind;  // the blurred photo, made before the cut-out zeroes its invisible colour
  if (options.blur_background && backdrop) behind = blurred_backdrop(cutout, matte, options.blur_radius);
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
  if (options.crop_subject) {
    const cv::Rect box = subject_box(cutout, options.margin_percent);
    cutout = cutout(box).clone();
    if (!behind.empty()) behind = behind(box).clone();
  }
  const int longest = std::max(cutout.cols, cutout.rows);
  if (options.max_side > 0 && longest > options.max_side) {
    const double scale = static_cast<double>(options.max_side) / longest;
    const cv::Size size = scaled_size(cutout.size(), scale);
    cutout = shrink_rgba(cutout, size);
    if (!behind.empty()) cv::resize(behind, behind, size, 0, 0, cv::INTER_AREA);
  }
  if (backdrop) *backdrop = behind;
  t.compose_ms += watch.elapsed_ms();
  return cutout;
}

std::vector<NamedOutput> render_outputs(const cv::Mat& cutout, const RemoveOptions& options, StageTimings& t,
                                        const OutputReadyFn& on_ready, const cv::Mat& backdrop) {
  const Rgba background = effective_background(options);
  cv::Mat picture = backdrop;
  if (picture.empty() && !options.background_image.empty()) {
    picture = cover_fit(options.background_image, cutout.size());
  }
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
      const std::string name(effect_name(effects[i]));
      if (effects[i] == Effect::kColor && (!picture.empty() || options.shadow)) {
        const cv::Mat subject = options.shadow ? with_drop_shadow(cutout) : cutout;
        const cv::Mat over = picture.empty() ? flatten(subject, background) : over_picture(subject, picture);
        render_ms[i] = watch.lap_ms();
        outputs[i] = {name, encode_image(over, options.format, options.encode)};
      } else {
        const EffectImage image = apply_effect(effects[i], cutout, options.effect_params);
        render_ms[i] = watch.lap_ms();
        outputs[i] = {name, encode_effect_image(image, options.format, background, options.encode)};
      }
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
  cv::Mat backdrop;
  const cv::Mat cutout = finish_cutout(std::move(decoded), std::move(matte), options, t, &backdrop);
  result.outputs = render_outputs(cutout, options, t, {}, backdrop);
  t.total_ms = total.elapsed_ms();
  return result;
}

}  // namespace cutout
