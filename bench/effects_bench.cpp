// Effects at 12 MP: each effect on one core (ms per megapixel), the four outputs of one photo
// rendered and encoded as the pipeline makes them (render_outputs), and ImageMagick doing the
// closest equivalents on the same image, in one run.
//
// Input: a realistic 12 MP RGBA cut-out built from an eval photo and the reference alpha of the
// same photo (../shared/eval/reference), both resized to 4032x3024; no model is run.
// ImageMagick (Debian's 6.9.11, `convert`) reads the same cut-out from its own MPC format (a
// memory-mapped pixel cache: reading it is nearly free), and the time of `convert in.mpc null:`
// measured in the same run is subtracted, so decoding is excluded on both sides.
//
//   build/bench/effects_bench [--benchmark_filter=...]
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <opencv2/imgproc.hpp>

#include "core/effects.h"
#include "core/image_encode.h"
#include "core/image_io.h"
#include "core/pipeline.h"

namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> read_all(const fs::path& p) {
  FILE* f = std::fopen(p.c_str(), "rb");
  if (!f) {
    std::fprintf(stderr, "effects_bench: cannot read %s\n", p.c_str());
    std::exit(1);
  }
  std::vector<uint8_t> bytes;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.insert(bytes.end(), buf, buf + n);
  std::fclose(f);
  return bytes;
}

cv::Mat make_cutout() {
  const fs::path eval = CUTOUT_EVAL_DIR;
  cv::Mat rgb = cutout::decode_image(read_all(eval / "grabcut/images/person1.jpg")).pixels;
  cv::Mat alpha3 = cutout::decode_image(read_all(eval / "reference/imgly-isnet-medium/person1.png")).pixels;
  cv::Mat alpha;
  cv::extractChannel(alpha3, alpha, 0);
  cv::resize(rgb, rgb, {4032, 3024}, 0, 0, cv::INTER_CUBIC);
  cv::resize(alpha, alpha, {4032, 3024}, 0, 0, cv::INTER_LINEAR);
  cv::Mat noise(rgb.size(), CV_16SC3);
  cv::RNG rng(7);
  rng.fill(noise, cv::RNG::NORMAL, 0, 3);  // a real photo's grain, as bench/make_bench_image
  cv::add(rgb, noise, rgb, cv::noArray(), CV_8UC3);
  cv::Mat rgba;
  cv::cvtColor(rgb, rgba, cv::COLOR_RGB2RGBA);
  rgba.setTo(cv::Scalar::all(0), alpha == 0);
  cv::insertChannel(alpha, rgba, 3);
  return rgba;
}

const cv::Mat& cutout_12mp() {
  static const cv::Mat image = make_cutout();
  return image;
}

double megapixels() {
  return cutout_12mp().total() / 1e6;
}

// Median seconds of each benchmark, for the ratio table.
std::map<std::string, double>& results() {
  static std::map<std::string, double> r;
  return r;
}

void effect_one_core(benchmark::State& state, cutout::Effect effect, std::string param, std::string value) {
  cv::setNumThreads(1);
  cutout::EffectParams params;
  if (!param.empty()) cutout::set_effect_param(params, param, value);
  const cv::Mat& cut = cutout_12mp();
  double total_ms = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(cutout::apply_effect(effect, cut, params));
    total_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
  state.counters["ms_per_MP"] = total_ms / static_cast<double>(state.iterations()) / megapixels();
  cv::setNumThreads(-1);
}

// The four outputs (color, bw, popart, dither as PNG) as a request for all four gets them:
// render_outputs renders and encodes each on a thread of its own; OpenCV's pool (state.range(0)
// threads) runs the loops inside each. Counters: rendering and encoding time summed over the
// outputs (they overlap), and the bytes of the four files.
void four_outputs(benchmark::State& state) {
  cv::setNumThreads(static_cast<int>(state.range(0)));
  cutout::RemoveOptions options;
  options.effects = cutout::all_effects();
  const cv::Mat& cut = cutout_12mp();
  double render_ms = 0, encode_ms = 0;
  size_t bytes = 0;
  for (auto _ : state) {
    cutout::StageTimings timings;
    const std::vector<cutout::NamedOutput> outputs = cutout::render_outputs(cut, options, timings);
    for (const auto& effect_time : timings.effect_ms) render_ms += effect_time.second;
    encode_ms += timings.encode_ms;
    bytes = 0;
    for (const cutout::NamedOutput& output : outputs) bytes += output.image.bytes.size();
  }
  const double iterations = static_cast<double>(state.iterations());
  state.counters["render_ms"] = render_ms / iterations;
  state.counters["encode_ms"] = encode_ms / iterations;
  state.counters["bytes"] = static_cast<double>(bytes);
  cv::setNumThreads(-1);
}

// ImageMagick, timed as a child process on the MPC copy of the cut-out.
const fs::path& mpc_path() {
  static const fs::path path = [] {
    fs::path dir = fs::temp_directory_path() / ("cutout-effects-bench-" + std::to_string(getpid()));
    fs::create_directories(dir);
    const fs::path png = dir / "cutout.png";
    const auto bytes = cutout::encode_png(cutout_12mp());
    FILE* f = std::fopen(png.c_str(), "wb");
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
    const fs::path mpc = dir / "cutout.mpc";
    if (std::system(("convert " + png.string() + " " + mpc.string()).c_str()) != 0) {
      std::fprintf(stderr, "effects_bench: ImageMagick's convert failed (is imagemagick installed?)\n");
      std::exit(1);
    }
    std::atexit([] {
      fs::remove_all(fs::temp_directory_path() / ("cutout-effects-bench-" + std::to_string(getpid())));
    });
    return mpc;
  }();
  return path;
}

void imagemagick(benchmark::State& state, std::string operations) {
  const std::string command = "convert " + mpc_path().string() + " " + operations + " null: 2>/dev/null";
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    if (std::system(command.c_str()) != 0) state.SkipWithError(("failed: " + command).c_str());
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
}

}  // namespace

BENCHMARK_CAPTURE(effect_one_core, bw, cutout::Effect::kBw, "", "")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(effect_one_core, popart, cutout::Effect::kPopart, "", "")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(effect_one_core, popart_grid, cutout::Effect::kPopart, "popart_grid", "2x2")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(effect_one_core, dither_floyd, cutout::Effect::kDither, "", "")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(effect_one_core, dither_atkinson, cutout::Effect::kDither, "dither_method", "atkinson")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(effect_one_core, dither_bayer, cutout::Effect::kDither, "dither_method", "bayer")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(four_outputs)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(imagemagick, read_only, "")->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(3);
BENCHMARK_CAPTURE(imagemagick, bw, "-colorspace Gray -sigmoidal-contrast 4x50% -unsharp 0x1.5")
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime()
    ->Iterations(3);
BENCHMARK_CAPTURE(imagemagick, popart, "-posterize 4")
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime()
    ->Iterations(3);
BENCHMARK_CAPTURE(imagemagick, dither, "-colorspace Gray -dither FloydSteinberg -monochrome")
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime()
    ->Iterations(3);

namespace {

// Prints the runs as usual, then ImageMagick's time (minus its read-only time) over ours.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (!run.error_occurred) results()[run.benchmark_name()] = run.GetAdjustedRealTime();
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    auto& r = results();
    auto get = [&](const std::string& prefix) {
      for (const auto& [name, ms] : r) {
        if (name.rfind(prefix, 0) == 0) return ms;
      }
      return -1.0;
    };
    const double read = get("imagemagick/read_only");
    std::printf("\n%.1f MP cut-out. ImageMagick times exclude its read (%.0f ms):\n", megapixels(), read);
    const std::pair<const char*, const char*> pairs[] = {
        {"imagemagick/bw", "effect_one_core/bw"},
        {"imagemagick/popart", "effect_one_core/popart/"},
        {"imagemagick/dither", "effect_one_core/dither_floyd"}};
    for (const auto& [im, ours] : pairs) {
      const double im_ms = get(im) - read, our_ms = get(ours);
      if (im_ms > 0 && our_ms > 0) {
        std::printf("  %-32s ImageMagick %7.0f ms, ours (1 core) %6.1f ms: %.1fx faster\n", ours, im_ms,
                    our_ms, im_ms / our_ms);
      }
    }
    std::printf("  (ImageMagick uses both cores through OpenMP; ours is timed on one.)\n");
    std::printf("  the four outputs rendered and encoded (PNG) as the pipeline does, 2 threads: %.0f ms\n",
                get("four_outputs/2"));
  }
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
