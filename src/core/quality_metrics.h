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

#include "core/compose.h"  // cover_fit, for the backgrounds of composites

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
// pixel scored: SAD = sum |alpha - gt| / 1000 (the matting benchmarks' unit), MSE = mean
// (alpha - gt)^2, MAE = mean |alpha - gt|, and the MAE inside the transition band: pixels whose
// true alpha is neither 0 nor 1, or within `band_px` px (Euclidean) of its 0/1 edge (the pixels
// on either side of the contour where the true alpha crosses 1/2).
struct SoftAlphaScore {
  double sad = 0.0;
  double mse = 0.0;
  double mae = 0.0;
  double band_mae = 0.0;
  int64_t band_pixels = 0;
};
SoftAlphaScore score_soft_alpha(const cv::Mat& alpha, const cv::Mat& ground_truth, int band_px = 10);

// The transition band of a soft ground-truth alpha, as score_soft_alpha defines it: 255 in the
// band, 0 elsewhere.
cv::Mat transition_band(const cv::Mat& ground_truth, int band_px = 10);

// Foreground estimation with an exact answer (../shared/eval/README.md): the composite
// I = alpha F + (1 - alpha) B of a photo F with its true alpha on a background B, rounded; F and B
// 8-bit RGB or RGBA (colour only) of the same size, alpha CV_8UC1. Returns RGB.
cv::Mat composite_onto(const cv::Mat& foreground, const cv::Mat& alpha, const cv::Mat& background);

// A foreground whose colour is exactly known everywhere: the photo where `alpha` is 255, and at
// every other pixel the colour of the nearest opaque one (8-bit RGB out). A photo's own soft pixels
// cannot serve as the true foreground colour: they hold its old background, in proportion 1 - alpha.
// Without any opaque pixel the photo is returned as it is.
cv::Mat nearest_opaque_colour(const cv::Mat& photo, const cv::Mat& alpha);

// Mean |estimate - truth| / 255 over the colour channels of the pixels where 0 < alpha < 255
// (8-bit RGB or RGBA images, alpha CV_8UC1, one size); 0 when there is no such pixel.
double foreground_error(const cv::Mat& estimate, const cv::Mat& truth, const cv::Mat& alpha);

// Mean |a - b| / 255 over all pixels of two CV_8UC1 mattes of the same size.
double matte_mean_abs_diff(const cv::Mat& a, const cv::Mat& b);

}  // namespace cutout
