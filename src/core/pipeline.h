// Background removal of one photo: decode -> matte -> cut-out -> effects -> encode.
//
// The model is behind MattePredictor so that the core depends on no inference library. The
// function is thread-safe if the predictor is used by one thread at a time (see the
// predictor's own rules). Effects and encoders of one photo run in parallel on OpenCV's pool.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

#include "core/compose.h"
#include "core/effects.h"
#include "core/image_encode.h"
#include "core/image_io.h"
#include "core/output_encode.h"

namespace cutout {

// Milliseconds per stage of one image; stages that did not run stay 0.
struct StageTimings {
  double decode_ms = 0;
  double preprocess_ms = 0;   // resize + normalise into the model's input tensor
  double inference_ms = 0;    // the model run itself
  double postprocess_ms = 0;  // output -> 8-bit matte at the photo's size
  double compose_ms = 0;      // alpha applied / composited on the background
  double effects_ms = 0;      // all effects (they run in parallel)
  std::vector<std::pair<Effect, double>> effect_ms;  // each effect's own time
  double encode_ms = 0;       // all outputs (in parallel)
  double total_ms = 0;
};

// Something that turns a photo (8-bit RGB or RGBA) into an 8-bit alpha matte of its size.
class MattePredictor {
 public:
  virtual ~MattePredictor() = default;
  // Adds its stage times (preprocess, inference, postprocess) to `timings`.
  virtual cv::Mat predict_matte(const cv::Mat& image, StageTimings& timings) = 0;
};

struct RemoveOptions {
  OutputFormat format = OutputFormat::kPng;
  // Unset: transparent, or white for JPEG (which has no alpha).
  std::optional<Rgba> background;
  // Outputs, in this order; empty means just the colour cut-out.
  std::vector<Effect> effects;
  EffectParams effect_params;
  bool mask = false;  // also return the matte as an 8-bit grey PNG, named "mask"
  DecodeOptions decode;
  EncodeSettings encode;
};

struct NamedOutput {
  std::string name;  // the effect's name ("color", "bw", ...) or "mask"
  EncodedImage image;
};

struct RemoveResult {
  int width = 0;
  int height = 0;
  std::vector<NamedOutput> outputs;
  StageTimings timings;

  // The output of that name; throws Error(kInternal) when absent.
  const EncodedImage& output(std::string_view name) const;
};

// The background actually used for a format: the caller's, or the format's default. Throws
// Error(kInvalidArgument) for a JPEG with a (partly) transparent background.
Rgba effective_background(const RemoveOptions& options);

// Throws Error for undecodable/too large/unsupported input and for model failures.
RemoveResult remove_background(std::span<const uint8_t> bytes, const RemoveOptions& options,
                               MattePredictor& predictor);

}  // namespace cutout
