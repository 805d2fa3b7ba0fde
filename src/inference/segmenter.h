// A model and its session, as a MattePredictor: photo in, alpha matte out.
//
// Thread-safety: predict_matte() may be called from several threads at once (each call has its
// own input tensor). Create it once and reuse it: construction loads the model.
#pragma once

#include <vector>

#include "core/pipeline.h"
#include "inference/model_registry.h"
#include "inference/ort_session.h"

namespace cutout {

class Segmenter final : public MattePredictor {
 public:
  // Throws Error(kModel) when the model cannot be loaded.
  Segmenter(ModelDescriptor model, const SessionConfig& config);

  cv::Mat predict_matte(const cv::Mat& image, StageTimings& timings) override;
  // The mattes of several photos from one run of the model (at most session().max_batch()).
  // Each photo's timings: its own preprocessing and postprocessing, and the whole run's
  // inference (what it waited for). Throws for the batch when the run fails.
  std::vector<cv::Mat> predict_mattes(const std::vector<cv::Mat>& images, std::vector<StageTimings>& timings);

  const ModelDescriptor& model() const { return model_; }
  OrtSession& session() { return session_; }

 private:
  ModelDescriptor model_;
  OrtSession session_;
};

}  // namespace cutout
