// Background removal of one photo: decode -> matte -> cut-out -> effects -> encode.
//
// The model is behind MattePredictor so that the core depends on no inference library. The
// function is thread-safe if the predictor is used by one thread at a time (see the
// predictor's own rules). The outputs of one photo are rendered and encoded at once, one task per
// output on threads of its own (render_outputs), not on OpenCV's pool: OpenCV runs a
// parallel_for_ nested in another one sequentially. Within a task, the effect's loops and the PNG
// encoder's stripes run on OpenCV's pool (cv::parallel_for_).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

#include "core/compose.h"
#include "core/edges.h"
#include "core/effects.h"
#include "core/image_encode.h"
#include "core/image_io.h"
#include "core/output_encode.h"

namespace cutout {

// Milliseconds per stage of one image; stages that did not run stay 0.
struct StageTimings {
  double decode_ms = 0;
  double preprocess_ms = 0;     // resize + normalise into the model's input tensor
  double inference_ms = 0;      // the model run itself
  double postprocess_ms = 0;    // output -> 8-bit matte at the photo's size
  double refine_ms = 0;         // the matte refined at the photo's resolution (refine=)
  double decontaminate_ms = 0;  // the foreground colour of the edges estimated (decontaminate=)
  double compose_ms = 0;        // alpha applied / composited on the background
  double effects_ms = 0;        // wall time of rendering and encoding all outputs (in parallel)
  std::vector<std::pair<Effect, double>> effect_ms;  // each effect's own rendering time
  double encode_ms = 0;  // encoding time summed over the outputs (they encode in parallel)
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
  // The matte refined at the photo's resolution, guided by the photo (core/edges.h).
  RefineMethod refine = kDefaultRefine;
  // The colour of semi-transparent edge pixels replaced by the estimated foreground colour, so
  // that no trace of the old background shows on a new one; every output is rendered from it.
  bool decontaminate = kDefaultDecontaminate;
  bool mask = false;  // also return the cut-out's alpha as an 8-bit grey PNG, named "mask"
  // A picture behind the colour cut-out (the other effects keep `background`): the photo itself,
  // blurred with the subject left out (portrait mode; blur_radius in the photo's pixels, 0: 2.5 %
  // of its longest side), or background_image (8-bit RGB or RGBA), scaled to cover and centred.
  bool blur_background = false;
  bool shadow = false;  // a soft drop shadow under the colour cut-out (compose.h with_drop_shadow)
  int blur_radius = 0;
  cv::Mat background_image;
  // Longest side of the outputs in pixels (0: the photo's own size); outputs are only shrunk.
  int max_side = 0;
  // Crop the outputs to the subject: the tight box around alpha >= 16 (a fainter haze is not the
  // subject), grown by margin_percent of its size on each side (clipped to the photo). A matte
  // with nothing that opaque keeps the whole photo.
  bool crop_subject = false;
  int margin_percent = 0;
  DecodeOptions decode;
  EncodeSettings encode;
};

// Called as each output is ready (rendered and encoded), from any thread, possibly concurrently.
using OutputReadyFn = std::function<void(const std::string& name, double ms)>;

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

// The steps of remove_background, for callers that schedule them themselves (the server decodes
// on a request thread, infers on the inference worker, and renders on the request thread again).
// Each adds its stage times to `timings`.
DecodedImage decode_for_cutout(std::span<const uint8_t> bytes, const RemoveOptions& options,
                               StageTimings& timings);
// Refines the matte and decontaminates the colour as asked, applies the matte to the decoded
// RGBA pixels in place, then crops and shrinks as asked.
// With blur_background and `backdrop`, also the blurred photo for render_outputs, cropped and
// shrunk as the cut-out is.
cv::Mat finish_cutout(DecodedImage decoded, cv::Mat matte, const RemoveOptions& options,
                      StageTimings& timings, cv::Mat* backdrop = nullptr);
// Renders and encodes every output (effects, then the mask) in parallel: each output on a thread
// of its own (std::async), the first on the calling thread. Returns, or throws the exception of
// the first output (in output order) that failed, once all are done.
// `backdrop` (finish_cutout's, RGB of the cut-out's size) goes behind the colour output; without
// one, options.background_image does.
std::vector<NamedOutput> render_outputs(const cv::Mat& cutout, const RemoveOptions& options,
                                        StageTimings& timings, const OutputReadyFn& on_ready = {},
                                        const cv::Mat& backdrop = cv::Mat());

// The photo (8-bit RGBA) blurred behind its subject: a Gaussian of `radius` px (0: 2.5 % of the
// longest side) of the background alone (weighted by 1 - alpha of `matte`), so the subject's
// colours do not smear into it. RGB.
cv::Mat blurred_backdrop(const cv::Mat& rgba, const cv::Mat& matte, int radius);

// The box of the pixels of a straight-alpha RGBA image at least 16/255 opaque (the subject, as
// crop=subject finds it: a fainter haze is not); empty when there is none.
cv::Rect visible_box(const cv::Mat& rgba);

// `rgba` (straight alpha) over an RGB picture of its size: RGB.
cv::Mat over_picture(const cv::Mat& rgba, const cv::Mat& picture);

}  // namespace cutout
