#include "inference/segmenter.h"

#include "core/matte.h"
#include "core/timer.h"

namespace cutout {

Segmenter::Segmenter(ModelDescriptor model, const SessionConfig& config)
    : model_(std::move(model)), session_(model_, config) {}

cv::Mat Segmenter::predict_matte(const cv::Mat& image, StageTimings& t) {
  const int w = session_.input_width(), h = session_.input_height();
  Stopwatch watch;
  std::vector<float> input(3 * static_cast<size_t>(w) * static_cast<size_t>(h));
  image_to_tensor(image, w, h, model_.normalization, input);
  t.preprocess_ms += watch.lap_ms();
  const std::vector<float> output = session_.run(input);
  t.inference_ms += watch.lap_ms();
  cv::Mat matte = resize_matte(output_to_matte(output, w, h, model_.activation), image.size());
  t.postprocess_ms += watch.lap_ms();
  return matte;
}

}  // namespace cutout
