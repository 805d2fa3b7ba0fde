// Activation statistics for static quantisation (scripts/isnet_qdq.py): a model whose extra
// outputs are the activations to quantise is run over calibration inputs, and each output's
// range and histogram are recorded. This is the part of calibration that needs ONNX Runtime;
// choosing ranges from the histograms (MinMax, percentile, entropy) is the script's.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace cutout {

struct ActivationStats {
  std::string name;
  float min = 0, max = 0;
  // `bins` equal bins over [min, max] of every value of every input.
  std::vector<uint64_t> histogram;
};

struct CalibrationConfig {
  int bins = 2048;
  int threads = 0;  // 0: default_thread_count()
  // Called after each run: pass (1 = ranges, 2 = histograms) and the input index.
  std::function<void(int pass, size_t input)> progress;
};

// Runs `model` on every planar [3][height][width] input twice: once for each float output's
// min and max, once for histograms over those ranges. Throws Error(kModel) when the model does not
// load or run, Error(kInvalidArgument) for no inputs or inputs of the wrong size.
std::vector<ActivationStats> record_activations(const std::filesystem::path& model,
                                                std::span<const std::vector<float>> inputs, int width,
                                                int height, const CalibrationConfig& config);

// The histogram of `values` in `bins` equal bins over [lo, hi], added to `histogram` (values
// outside land in the end bins; NaN is skipped).
void add_to_histogram(std::span<const float> values, float lo, float hi, std::span<uint64_t> histogram);

}  // namespace cutout
