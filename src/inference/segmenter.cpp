#include "inference/segmenter.h"

#include "core/matte.h"
#include "core/timer.h"

namespace cutout {

Segmenter::Segmenter(ModelDescriptor model, const SessionConfig& config)
    : model_(std::move(model)), session_(model_, config) {}

cv::Mat Segmenter::predict_matte(const cv::Mat& image, StageTimings& t) {
  std::vector<StageTimings> one;
  cv::Mat matte = std::move(predict_mattes({image}, one).front());
  t.preprocess_ms += one[0].preprocess_ms;
  t.inference_ms += one[0].inference_ms;
  t.postprocess_ms += one[0].postprocess_ms;
  return matte;
}

std::vector<cv::Mat> Segmenter::predict_mattes(const std::vector<cv::Mat>& images,
                                               std::vector<StageTimings>& t) {
  const int w = session_.input_width(), h = session_.input_height();
  const size_t plane = 3 * static_cast<size_t>(w) * static_cast<size_t>(h);
  const size_t n = images.size();
  t.resize(n);
  std::vector<float> input(plane * n);
  Stopwatch watch;
  for (size_t i = 0; i < n; ++i) {
    image_to_tensor(images[i], w, h, model_.normalization, std::span(input).subspan(i * plane, plane));
    t[i].preprocess_ms += watch.lap_ms();
  }
  const std::vector<float> output = session_.run_batch(input, static_cast<int>(n));
  const double run_ms = watch.lap_ms();
  std::vector<cv::Mat> mattes(n);
  const size_t out_plane = static_cast<size_t>(w) * static_cast<size_t>(h);
  for (size_t i = 0; i < n; ++i) {
    t[i].inference_ms += run_ms;
    const std::span<const float> one(output.data() + i * out_plane, out_plane);
    mattes[i] = resize_matte(output_to_matte(one, w, h, model_.activation), images[i].size());
    t[i].postprocess_ms += watch.lap_ms();
  }
  return mattes;
}

}  // namespace cutout
