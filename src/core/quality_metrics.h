// Cut-out quality against a ground-truth mask, as ../shared/eval/README.md defines it.
//
// Ground truth: 8-bit, > 128 foreground, < 128 background, exactly 128 = uncertain (not scored).
// - MAE: mean |alpha/255 - gt| over scored pixels, gt in {0, 1}.
// - IoU: of (alpha >= 128) and the foreground, over scored pixels.
// - Boundary IoU: the same IoU restricted to a band of pixels within 3 px of the ground-truth
//   edge: dilate(E, 3) xor erode(E, 3) with the 4-connected cross, E = (gt >= 128), pixels
//   outside the image counting as background. This exact band reproduces the README's
//   published reference scores (tests/quality_metrics_test.cpp).
// Pure functions, thread-safe.
#pragma once

#include <cstdint>

#include <opencv2/core.hpp>

namespace cutout {

struct MatteScore {
  double mae = 0.0;
  double iou = 0.0;
  double boundary_iou = 0.0;
  int64_t scored_pixels = 0;
};

// alpha and ground_truth: CV_8UC1 of the same size.
MatteScore score_matte(const cv::Mat& alpha, const cv::Mat& ground_truth, int boundary_px = 3);

// Against a soft ground-truth alpha (../shared/eval/alphamatting), alphas read as [0, 1], every
// pixel scored: SAD = sum |alpha - gt| / 1000 (the matting benchmarks' unit) and MSE = mean
// (alpha - gt)^2.
struct SoftAlphaScore {
  double sad = 0.0;
  double mse = 0.0;
};
SoftAlphaScore score_soft_alpha(const cv::Mat& alpha, const cv::Mat& ground_truth);

// Mean |a - b| / 255 over all pixels of two CV_8UC1 mattes of the same size.
double matte_mean_abs_diff(const cv::Mat& a, const cv::Mat& b);

}  // namespace cutout
