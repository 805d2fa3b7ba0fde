// Encoder kernels against OpenCV's writers (cv::imencode: libpng, libwebp, libjpeg) in the same run.
//
// Inputs, built once from an eval photo: a 12 MP (4032x3024) and a 1 MP (1024x1024) RGBA cut-out
// (elliptic matte over ~40 % of the area, 20 px soft edge, colour zeroed where alpha == 0, as the
// pipeline writes them), the 12 MP matte alone (grey) and the 12 MP cut-out composited on white
// (RGB, for JPEG). After the table, the reporter prints time and size ratios ours/OpenCV.
//
//   build/bench/codec_bench --benchmark_filter=png
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

#include <benchmark/benchmark.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/image_encode.h"

namespace {

// The photo upscaled with INTER_CUBIC is smoother than a real 12 MP photo; both encoders see the
// same pixels, so the ratios hold, while absolute sizes are on the small side.
cv::Mat make_cutout(int width, int height) {
  cv::Mat bgr = cv::imread(std::string(CUTOUT_EVAL_DIR) + "/grabcut/images/person1.jpg");
  if (bgr.empty()) {
    std::fprintf(stderr, "codec_bench: cannot read the eval photo under %s\n", CUTOUT_EVAL_DIR);
    std::exit(1);
  }
  cv::resize(bgr, bgr, {width, height}, 0, 0, cv::INTER_CUBIC);
  cv::Mat alpha(height, width, CV_8UC1, cv::Scalar(0));
  const double k = std::sqrt(0.4 / CV_PI);  // ellipse area = 0.4 * width * height
  cv::ellipse(alpha, {width / 2, height / 2}, {static_cast<int>(width * k), static_cast<int>(height * k)}, 0,
              0, 360, cv::Scalar(255), cv::FILLED);
  const int kernel = std::max(3, width * 20 / 4032 * 2 + 1);  // ~20 px edge at 12 MP
  cv::GaussianBlur(alpha, alpha, {kernel, kernel}, 0);
  cv::Mat rgba;
  cv::cvtColor(bgr, rgba, cv::COLOR_BGR2RGBA);
  rgba.setTo(cv::Scalar::all(0), alpha == 0);
  cv::insertChannel(alpha, rgba, 3);
  return rgba;
}

const cv::Mat& cutout_12mp() {
  static const cv::Mat image = make_cutout(4032, 3024);
  return image;
}
const cv::Mat& cutout_1mp() {
  static const cv::Mat image = make_cutout(1024, 1024);
  return image;
}
const cv::Mat& matte_12mp() {
  static const cv::Mat image = [] {
    cv::Mat alpha;
    cv::extractChannel(cutout_12mp(), alpha, 3);
    return alpha;
  }();
  return image;
}
const cv::Mat& on_white_12mp() {
  static const cv::Mat image = [] {
    cv::Mat rgba_f, rgb;
    cutout_12mp().convertTo(rgba_f, CV_32F, 1.0 / 255);
    std::vector<cv::Mat> p;
    cv::split(rgba_f, p);
    for (int c = 0; c < 3; ++c) p[c] = p[c].mul(p[3]) + (1.0f - p[3]);
    p.pop_back();
    cv::merge(p, rgba_f);
    rgba_f.convertTo(rgb, CV_8U, 255);
    return rgb;
  }();
  return image;
}

void report(benchmark::State& state, const cv::Mat& image, size_t bytes) {
  state.counters["bytes"] = static_cast<double>(bytes);
  state.counters["MP/s"] = benchmark::Counter(static_cast<double>(image.total()) / 1e6,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

template <class Encode>
void run(benchmark::State& state, const cv::Mat& image, Encode encode) {
  size_t bytes = 0;
  for (auto _ : state) {
    auto out = encode(image);
    bytes = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  report(state, image, bytes);
}

std::vector<uint8_t> opencv_encode(const char* ext, const cv::Mat& image, std::vector<int> params) {
  std::vector<uint8_t> out;
  cv::imencode(ext, image, out, params);  // channel order is irrelevant to the cost
  return out;
}

// Wall time: our PNG encoder works on several threads.
template <class Fn>
void add(const std::string& name, Fn fn) {
  benchmark::RegisterBenchmark(name.c_str(), fn)->Unit(benchmark::kMillisecond)->UseRealTime();
}

void register_all() {
  struct Input {
    const char* name;
    const cv::Mat& (*get)();
  };
  const Input png_inputs[] = {{"12MP", cutout_12mp}, {"1MP", cutout_1mp}, {"matte12MP", matte_12mp}};
  for (const Input& in : png_inputs) {
    const std::string name = in.name;
    add("png/opencv/" + name, [in](benchmark::State& s) {
      run(s, in.get(), [](const cv::Mat& m) { return opencv_encode(".png", m, {}); });
    });
    for (int threads : {1, 2}) {
      add("png/ours/" + name + "/threads:" + std::to_string(threads), [in, threads](benchmark::State& s) {
        cutout::PngOptions options;
        options.threads = threads;
        run(s, in.get(), [&](const cv::Mat& m) { return cutout::encode_png(m, options); });
      });
    }
  }
  add("webp/opencv/12MP", [](benchmark::State& s) {
    run(s, cutout_12mp(), [](const cv::Mat& m) {
      return opencv_encode(".webp", m, {cv::IMWRITE_WEBP_QUALITY, 90});
    });
  });
  add("webp/ours/12MP", [](benchmark::State& s) {
    run(s, cutout_12mp(), [](const cv::Mat& m) { return cutout::encode_webp(m); });
  });
  add("jpeg/opencv/12MP", [](benchmark::State& s) {
    run(s, on_white_12mp(), [](const cv::Mat& m) {
      return opencv_encode(".jpg", m, {cv::IMWRITE_JPEG_QUALITY, 90});
    });
  });
  add("jpeg/ours/12MP", [](benchmark::State& s) {
    run(s, on_white_12mp(), [](const cv::Mat& m) { return cutout::encode_jpeg(m); });
  });
}

// Console output plus, at the end, each "<codec>/ours/<input>..." run against the
// "<codec>/opencv/<input>" baseline of the same run: time ratio (< 1: we are faster) and size ratio.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  RatioReporter() : ConsoleReporter(isatty(fileno(stdout)) ? OO_Defaults : OO_Tabular) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Iteration || run.error_occurred) continue;
      Result& r = results_[run.run_name.function_name];  // without "/real_time" etc.
      const double ms = run.GetAdjustedRealTime();
      r.time = r.time == 0 ? ms : std::min(r.time, ms);  // with repetitions: the fastest
      const auto bytes = run.counters.find("bytes");
      if (bytes != run.counters.end()) r.bytes = bytes->second.value;
    }
    ConsoleReporter::ReportRuns(runs);
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    std::printf("\n%-32s %-22s %10s %10s\n", "ours", "baseline", "time", "size");
    for (const auto& [name, ours] : results_) {
      const size_t at = name.find("/ours/");
      if (at == std::string::npos) continue;
      std::string base = name.substr(0, at) + "/opencv/" + name.substr(at + 6);
      base = base.substr(0, base.find("/threads:"));
      const auto found = results_.find(base);
      if (found == results_.end() || found->second.time == 0 || found->second.bytes == 0) continue;
      std::printf("%-32s %-22s %9.2fx %9.2fx\n", name.c_str(), base.c_str(), ours.time / found->second.time,
                  ours.bytes / found->second.bytes);
    }
  }

 private:
  struct Result {
    double time = 0;
    double bytes = 0;
  };
  std::map<std::string, Result> results_;
};

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
