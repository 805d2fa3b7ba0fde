#include "core/quality_metrics.h"

#include <cstdlib>

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

SoftAlphaScore score_soft_alpha(const cv::Mat& alpha, const cv::Mat& gt) {
  check_pair(alpha, gt);
  if (alpha.empty()) return {};
  const double l1 = cv::norm(alpha, gt, cv::NORM_L1) / 255.0;
  const double l2 = cv::norm(alpha, gt, cv::NORM_L2SQR) / (255.0 * 255.0);
  return {l1 / 1000.0, l2 / static_cast<double>(alpha.total())};
}

double matte_mean_abs_diff(const cv::Mat& a, const cv::Mat& b) {
  check_pair(a, b);
  if (a.empty()) return 0.0;
  return cv::norm(a, b, cv::NORM_L1) / 255.0 / static_cast<double>(a.total());
}

}  // namespace cutout
