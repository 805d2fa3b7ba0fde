// The inference layer with tiny generated models of the real models' signatures
// (scripts/make_test_models.py): every test runs in milliseconds.
#include "inference/segmenter.h"

#include <cmath>

#include <thread>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/pipeline.h"
#include "inference/ort_core.h"
#include "test_support.h"

namespace cutout {
namespace {

ModelDescriptor tiny(const char* file, ModelKind kind, int base_size = 0) {
  return custom_model(testing::test_models_dir() / file, kind, base_size);
}

SessionConfig one_thread() {
  SessionConfig c;
  c.intra_op_threads = 1;
  return c;
}

// tiny_isnet: sigmoid(8 * (.25 r + .5 g + .25 b)) of the normalised input.
uint8_t tiny_isnet_alpha(int r, int g, int b) {
  auto n = [](int v) { return (v - 128) / 256.0; };
  const double z = 8 * (0.25 * n(r) + 0.5 * n(g) + 0.25 * n(b));
  return static_cast<uint8_t>(std::lround(255.0 / (1.0 + std::exp(-z))));
}

TEST(OrtSession, ReadsNamesAndShapesFromTheModel) {
  OrtSession s(tiny("tiny_isnet.onnx", ModelKind::kIsnet), one_thread());
  EXPECT_EQ(s.input_name(), "input");
  EXPECT_EQ(s.output_name(), "output");  // chosen by name, although the model has two outputs
  EXPECT_EQ(s.input_width(), 1024);
  EXPECT_EQ(s.input_height(), 1024);
  EXPECT_EQ(s.threads(), 1);
  EXPECT_EQ(s.provider(), "cpu");
  EXPECT_GT(s.load_ms(), 0.0);

  OrtSession p(tiny("tiny_inspyrenet.onnx", ModelKind::kInspyrenet, 384), one_thread());
  EXPECT_EQ(p.input_name(), "img");
  EXPECT_EQ(p.output_name(), "pred");
  EXPECT_EQ(p.input_width(), 384);  // dynamic dims: the base size

  OrtSession fixed(tiny("tiny_inspyrenet_384.onnx", ModelKind::kInspyrenet, 1024), one_thread());
  EXPECT_EQ(fixed.input_width(), 384);  // static dims win over the base size
}

TEST(Segmenter, IsnetMatteMatchesHandComputedValues) {
  Segmenter seg(tiny("tiny_isnet.onnx", ModelKind::kIsnet), one_thread());
  const int colours[][3] = {{0, 0, 0}, {255, 255, 255}, {128, 128, 128}, {200, 30, 90}};
  for (const auto& c : colours) {
    cv::Mat img(48, 64, CV_8UC3, cv::Scalar(c[0], c[1], c[2]));
    StageTimings t;
    cv::Mat matte = seg.predict_matte(img, t);
    ASSERT_EQ(matte.size(), img.size());
    double lo, hi;
    cv::minMaxLoc(matte, &lo, &hi);
    const int expected = tiny_isnet_alpha(c[0], c[1], c[2]);
    EXPECT_NEAR(lo, expected, 1) << c[0] << "," << c[1] << "," << c[2];
    EXPECT_NEAR(hi, expected, 1);
    EXPECT_GT(t.inference_ms, 0.0);
  }
}

TEST(Segmenter, InspyrenetOutputIsMinMaxNormalised) {
  Segmenter seg(tiny("tiny_inspyrenet.onnx", ModelKind::kInspyrenet, 384), one_thread());
  cv::Mat img(100, 200, CV_8UC3, cv::Scalar(0, 0, 0));
  img(cv::Rect(100, 0, 100, 100)).setTo(cv::Scalar(255, 255, 255));
  StageTimings t;
  cv::Mat matte = seg.predict_matte(img, t);
  EXPECT_EQ(matte.at<uint8_t>(50, 10), 0);
  EXPECT_EQ(matte.at<uint8_t>(50, 190), 255);
}

TEST(OrtSession, BadModelsAreModelErrors) {
  for (const char* file : {"bad_signature.onnx", "not_a_model.onnx", "does_not_exist.onnx"}) {
    try {
      OrtSession s(tiny(file, ModelKind::kIsnet), one_thread());
      FAIL() << file;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kModel) << file;
      EXPECT_FALSE(std::string(e.what()).empty());
    }
  }
}

// Without a GPU, --device cuda fails before any session, naming what the machine lacks; auto
// falls back to cpu and says why; the CPU-only core is refused for cuda whatever the machine.
TEST(OrtSession, CudaWithoutWhatItNeedsIsAClearError) {
  const std::string missing = cuda_missing(ort_core_path("microsoft"));
  if (missing.empty()) GTEST_SKIP() << "this machine can run CUDA";
  SessionConfig c = one_thread();
  c.device = Device::kCuda;
  try {
    OrtSession s(tiny("tiny_isnet.onnx", ModelKind::kIsnet), c);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModel);
    EXPECT_NE(std::string(e.what()).find("this machine lacks " + missing), std::string::npos) << e.what();
  }
  c.device = Device::kAuto;
  const DeviceChoice auto_choice = choose_device(c);
  EXPECT_EQ(auto_choice.device, Device::kCpu);
  EXPECT_NE(auto_choice.why.find(missing), std::string::npos) << auto_choice.why;
  OrtSession fallback(tiny("tiny_isnet.onnx", ModelKind::kIsnet), c);
  EXPECT_EQ(fallback.provider(), "cpu");

  c.device = Device::kCuda;
  c.ort_core = "asus4";
  try {
    choose_device(c);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("CPU build"), std::string::npos) << e.what();
  }
}

TEST(Device, ParseAndThreadDefaults) {
  EXPECT_EQ(parse_device("cpu"), Device::kCpu);
  EXPECT_EQ(parse_device("cuda"), Device::kCuda);
  EXPECT_EQ(parse_device("auto"), Device::kAuto);
  EXPECT_EQ(device_name(Device::kAuto), "auto");
  EXPECT_THROW(parse_device("tpu"), Error);
  setenv("CUTOUT_THREADS", "3", 1);
  EXPECT_EQ(default_thread_count(), 3);
  setenv("CUTOUT_THREADS", "zero", 1);
  setenv("OMP_NUM_THREADS", "5", 1);
  EXPECT_EQ(default_thread_count(), 5);
  unsetenv("CUTOUT_THREADS");
  unsetenv("OMP_NUM_THREADS");
  EXPECT_GE(default_thread_count(), 1);
  EXPECT_LE(default_thread_count(), static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

// A container's CPU limit caps the default thread count (cgroup v2 cpu.max, v1 quota and period).
TEST(Device, CpuQuotaInWholeCores) {
  EXPECT_EQ(cores_from_cpu_quota("200000 100000"), 2);
  EXPECT_EQ(cores_from_cpu_quota("200000 100000\n"), 2);
  EXPECT_EQ(cores_from_cpu_quota("150000 100000"), 2);  // 1.5 CPUs: round up, never 0
  EXPECT_EQ(cores_from_cpu_quota("50000 100000"), 1);
  EXPECT_EQ(cores_from_cpu_quota("400000 50000"), 8);
  EXPECT_EQ(cores_from_cpu_quota("max 100000"), 0);
  EXPECT_EQ(cores_from_cpu_quota("-1 100000"), 0);  // v1: no limit
  EXPECT_EQ(cores_from_cpu_quota(""), 0);
  EXPECT_EQ(cores_from_cpu_quota("200000"), 0);
  EXPECT_EQ(cores_from_cpu_quota("2x 100000"), 0);
}

TEST(RemoveBackground, EndToEndWithTheTinyModel) {
  Segmenter seg(tiny("tiny_isnet.onnx", ModelKind::kIsnet), one_thread());
  cv::Mat rgb = testing::make_test_rgb(120, 80), bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  std::vector<uint8_t> jpeg;
  cv::imencode(".jpg", bgr, jpeg);

  RemoveOptions options;
  options.mask = true;
  RemoveResult r = remove_background(jpeg, options, seg);
  EXPECT_EQ(r.width, 120);
  EXPECT_EQ(r.height, 80);
  cv::Mat png = cv::imdecode(r.output("color").bytes, cv::IMREAD_UNCHANGED);
  ASSERT_EQ(png.type(), CV_8UC4);
  EXPECT_EQ(png.size(), cv::Size(120, 80));
  ASSERT_EQ(r.outputs.size(), 2u);
  cv::Mat mask = cv::imdecode(r.output("mask").bytes, cv::IMREAD_UNCHANGED);
  ASSERT_EQ(mask.type(), CV_8UC1);
  // The cut-out's alpha is the mask.
  cv::Mat alpha;
  cv::extractChannel(png, alpha, 3);
  EXPECT_EQ(cv::norm(alpha, mask, cv::NORM_INF), 0);
  EXPECT_GT(r.timings.total_ms, 0.0);

  options.format = OutputFormat::kJpeg;
  options.mask = false;
  RemoveResult j = remove_background(jpeg, options, seg);
  EXPECT_EQ(cv::imdecode(j.output("color").bytes, cv::IMREAD_UNCHANGED).type(), CV_8UC3);

  options.background = Rgba{0, 0, 0, 0};  // JPEG cannot be transparent
  EXPECT_THROW(remove_background(jpeg, options, seg), Error);
}

TEST(RemoveBackground, BadInputIsATypedError) {
  Segmenter seg(tiny("tiny_isnet.onnx", ModelKind::kIsnet), one_thread());
  const std::string text = "hello, this is not an image";
  std::vector<uint8_t> bytes(text.begin(), text.end());
  try {
    remove_background(bytes, {}, seg);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupportedFormat);
  }
}

}  // namespace
}  // namespace cutout
