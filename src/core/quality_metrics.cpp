#include "core/quality_metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "core/error.h"

namespace cutout {
namespace {

void check_pair(const cv::Mat& a, const cv::Mat& b) {
  if (a.type() != CV_8UC1 || b.type() != CV_8UC1 || a.size() != b.size()) {
    throw Error(ErrorCode::kInvalidArgument, "matte and mask must be 8-bit grey images of the same size");
  }
}

double iou_of(int64_t inter, int64_t uni) {
  return uni ? static_cast<double>(inter) / uni : 1.0;
}

}  // namespace

MatteScore score_matte(const cv::Mat& alpha, const cv::Mat& gt, int boundary_px) {
  check_pair(alpha, gt);
  // The band that reproduces the eval set's published scores: pixels within `boundary_px`
  // 4-connected steps of the edge of (gt >= 128), i.e. the uncertain band counts as foreground
  // when finding the edge, and the image border counts as background (scipy's defaults).
  const cv::Mat edge_source = gt >= 128;
  const cv::Mat cross = cv::getStructuringElement(cv::MORPH_CROSS, {3, 3});
  cv::Mat dilated, eroded;
  cv::dilate(edge_source, dilated, cross, {-1, -1}, boundary_px, cv::BORDER_CONSTANT, cv::Scalar(0));
  cv::erode(edge_source, eroded, cross, {-1, -1}, boundary_px, cv::BORDER_CONSTANT, cv::Scalar(0));
  const cv::Mat band = dilated & ~eroded;

  MatteScore s;
  double abs_sum = 0.0;
  int64_t inter = 0, uni = 0, band_inter = 0, band_uni = 0;
  for (int y = 0; y < gt.rows; ++y) {
    const uint8_t* a = alpha.ptr<uint8_t>(y);
    const uint8_t* g = gt.ptr<uint8_t>(y);
    const uint8_t* bd = band.ptr<uint8_t>(y);
    for (int x = 0; x < gt.cols; ++x) {
      if (g[x] == 128) continue;
      const bool truth = g[x] > 128;
      const bool pred = a[x] >= 128;
      ++s.scored_pixels;
      abs_sum += truth ? 255 - a[x] : a[x];
      inter += truth && pred;
      uni += truth || pred;
      if (bd[x]) {
        band_inter += truth && pred;
        band_uni += truth || pred;
      }
    }
  }
  s.mae = s.scored_pixels ? abs_sum / 255.0 / static_cast<double>(s.scored_pixels) : 0.0;
  s.iou = iou_of(inter, uni);
  s.boundary_iou = iou_of(band_inter, band_uni);
  return s;
}

cv::Mat transition_band(const cv::Mat& gt, int band_px) {
  // The 0/1 edge: the pixels on either side of the contour where the true alpha crosses 1/2.
  const cv::Mat opaque = gt >= 128;
  const cv::Mat square = cv::getStructuringElement(cv::MORPH_RECT, {3, 3});
  cv::Mat grown, shrunk;
  cv::dilate(opaque, grown, square);
  cv::erode(opaque, shrunk, square);
  cv::Mat distance;  // to the nearest edge pixel
  cv::distanceTransform(~(grown & ~shrunk), distance, cv::DIST_L2, cv::DIST_MASK_PRECISE);
  return (distance <= band_px) | ((gt > 0) & (gt < 255));
}

SoftAlphaScore score_soft_alpha(const cv::Mat& alpha, const cv::Mat& gt, int band_px) {
  check_pair(alpha, gt);
  if (alpha.empty()) return {};
  SoftAlphaScore s;
  const double l1 = cv::norm(alpha, gt, cv::NORM_L1) / 255.0;
  const double l2 = cv::norm(alpha, gt, cv::NORM_L2SQR) / (255.0 * 255.0);
  const double n = static_cast<double>(alpha.total());
  s.sad = l1 / 1000.0;
  s.mse = l2 / n;
  s.mae = l1 / n;
  const cv::Mat band = transition_band(gt, band_px);
  s.band_pixels = cv::countNonZero(band);
  if (s.band_pixels) s.band_mae = cv::norm(alpha, gt, cv::NORM_L1, band) / 255.0 / s.band_pixels;
  return s;
}

namespace {

void check_colour(const cv::Mat& image, const cv::Mat& alpha) {
  if (image.depth() != CV_8U || image.channels() < 3 || alpha.type() != CV_8UC1 ||
      image.size() != alpha.size()) {
    throw Error(ErrorCode::kInvalidArgument,
                "images must be 8-bit colour, with an 8-bit alpha of their size");
  }
}

}  // namespace

cv::Mat composite_onto(const cv::Mat& fg, const cv::Mat& alpha, const cv::Mat& bg) {
  check_colour(fg, alpha);
  check_colour(bg, alpha);
  cv::Mat out(fg.size(), CV_8UC3);
  for (int y = 0; y < fg.rows; ++y) {
    const uint8_t *f = fg.ptr<uint8_t>(y), *b = bg.ptr<uint8_t>(y), *a = alpha.ptr<uint8_t>(y);
    uint8_t* o = out.ptr<uint8_t>(y);
    for (int x = 0; x < fg.cols; ++x) {
      for (int c = 0; c < 3; ++c) {
        o[3 * x + c] = static_cast<uint8_t>(
            (f[x * fg.channels() + c] * a[x] + b[x * bg.channels() + c] * (255 - a[x]) + 127) / 255);
      }
    }
  }
  return out;
}

cv::Mat nearest_opaque_colour(const cv::Mat& photo, const cv::Mat& alpha) {
  check_colour(photo, alpha);
  cv::Mat rgb;
  if (photo.channels() == 4) {
    cv::cvtColor(photo, rgb, cv::COLOR_RGBA2RGB);
  } else {
    rgb = photo.clone();
  }
  const cv::Mat soft = alpha != 255;  // distanceTransform measures to the nearest zero: opaque
  if (cv::countNonZero(soft) == static_cast<int>(soft.total())) return rgb;
  cv::Mat distance, labels;
  cv::distanceTransform(soft, distance, labels, cv::DIST_L2, cv::DIST_MASK_5, cv::DIST_LABEL_PIXEL);
  // Labels number the opaque pixels from 1 in row-major order.
  std::vector<cv::Vec3b> colour_of(1);
  for (int y = 0; y < rgb.rows; ++y) {
    const uint8_t* s = soft.ptr<uint8_t>(y);
    for (int x = 0; x < rgb.cols; ++x) {
      if (!s[x]) colour_of.push_back(rgb.at<cv::Vec3b>(y, x));
    }
  }
  for (int y = 0; y < rgb.rows; ++y) {
    const uint8_t* s = soft.ptr<uint8_t>(y);
    const int* l = labels.ptr<int>(y);
    for (int x = 0; x < rgb.cols; ++x) {
      if (s[x]) rgb.at<cv::Vec3b>(y, x) = colour_of.at(l[x]);
    }
  }
  return rgb;
}

double foreground_error(const cv::Mat& estimate, const cv::Mat& truth, const cv::Mat& alpha) {
  check_colour(estimate, alpha);
  check_colour(truth, alpha);
  double sum = 0;
  int64_t count = 0;
  for (int y = 0; y < alpha.rows; ++y) {
    const uint8_t *e = estimate.ptr<uint8_t>(y), *t = truth.ptr<uint8_t>(y), *a = alpha.ptr<uint8_t>(y);
    for (int x = 0; x < alpha.cols; ++x) {
      if (a[x] == 0 || a[x] == 255) continue;
      ++count;
      for (int c = 0; c < 3; ++c)
        sum += std::abs(e[x * estimate.channels() + c] - t[x * truth.channels() + c]);
    }
  }
  return count ? sum / 255.0 / 3.0 / static_cast<double>(count) : 0.0;
}

double matte_mean_abs_diff(const cv::Mat& a, const cv::Mat& b) {
  check_pair(a, b);
  if (a.empty()) return 0.0;
  return cv::norm(a, b, cv::NORM_L1) / 255.0 / static_cast<double>(a.total());
}

}  // namespace cutout
