// The edge stages at 12 MP (issue 15): matte refinement and colour decontamination of a 4032x3024
// photo, against the cut-out step they precede (cut_out_in_place), measured in the same run.
// Bar: refinement + decontamination <= 150 ms on 2 threads.
//
// Input: grabcut/person1 (long hair) and the alpha the ISNet reference made of it
// (../shared/eval/reference), both resized to 4032x3024 as the pipeline resizes the network's
// matte; no model is run.
//
//   build/bench/edges_bench [--benchmark_filter=...]
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include <benchmark/benchmark.h>
#include <opencv2/imgproc.hpp>

#include "core/compose.h"
#include "core/edges.h"
#include "core/image_io.h"

namespace {

namespace fs = std::filesystem;

cv::Mat decode_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  cutout::DecodeOptions options;
  options.rgba = true;
  return cutout::decode_image(bytes, options).pixels;
}

struct Photo {
  cv::Mat rgba, matte;
};

const Photo& photo_12mp() {
  static const Photo photo = [] {
    const fs::path eval = CUTOUT_EVAL_DIR;
    Photo p;
    // EDGES_PHOTO and EDGES_MATTE: another photo and matte (e.g. `cutout remove --mask`'s).
    const char* photo = std::getenv("EDGES_PHOTO");
    const char* matte = std::getenv("EDGES_MATTE");
    cv::resize(decode_file(photo ? fs::path(photo) : eval / "grabcut/images/person1.jpg"), p.rgba,
               {4032, 3024}, 0, 0, cv::INTER_CUBIC);
    cv::Mat alpha;
    cv::extractChannel(
        decode_file(matte ? fs::path(matte) : eval / "reference/imgly-isnet-medium/person1.png"), alpha, 0);
    cv::resize(alpha, p.matte, {4032, 3024}, 0, 0, cv::INTER_LINEAR);
    return p;
  }();
  return photo;
}

// Each iteration works on fresh copies, as the pipeline does on its own buffers; the copies are
// not timed.
template <typename Fn>
void run(benchmark::State& state, Fn&& fn) {
  const Photo& p = photo_12mp();
  for (auto _ : state) {
    state.PauseTiming();
    cv::Mat rgba = p.rgba.clone(), matte = p.matte.clone();
    state.ResumeTiming();
    fn(rgba, matte);
    benchmark::DoNotOptimize(rgba.data);
  }
  state.counters["megapixels"] = p.rgba.total() / 1e6;
}

void BM_CutOutBaseline(benchmark::State& state) {
  run(state, [](cv::Mat& rgba, cv::Mat& matte) { cutout::cut_out_in_place(rgba, matte); });
}

void BM_Grid(benchmark::State& state) {
  run(state,
      [](cv::Mat& rgba, cv::Mat&) { benchmark::DoNotOptimize(cutout::make_edge_grid(rgba).colour.data); });
}

void BM_Refine(benchmark::State& state) {
  run(state, [](cv::Mat& rgba, cv::Mat& matte) {
    cutout::refine_matte(rgba, cutout::make_edge_grid(rgba), matte, cutout::RefineMethod::kGuided);
  });
}

// The same without the photo-wide colour model: what it costs.
void BM_RefineWithoutColourPrior(benchmark::State& state) {
  cutout::GuidedFilterParams params;
  params.colour_prior = 0.0;
  run(state, [&](cv::Mat& rgba, cv::Mat& matte) {
    cutout::refine_matte(rgba, cutout::make_edge_grid(rgba), matte, cutout::RefineMethod::kGuided, params);
  });
}

void BM_Decontaminate(benchmark::State& state) {
  run(state, [](cv::Mat& rgba, cv::Mat& matte) {
    cutout::decontaminate(rgba, cutout::make_edge_grid(rgba), matte);
  });
}

// The same with every pixel of the grid's level swept: what sweeping near the soft pixels saves.
void BM_DecontaminateSweepingEveryPixel(benchmark::State& state) {
  cutout::ForegroundParams params;
  params.sweep_near_soft_only = false;
  run(state, [&](cv::Mat& rgba, cv::Mat& matte) {
    cutout::decontaminate(rgba, cutout::make_edge_grid(rgba), matte, params);
  });
}

// What finish_cutout does with the defaults: one grid, refine, decontaminate.
void BM_RefineAndDecontaminate(benchmark::State& state) {
  run(state, [](cv::Mat& rgba, cv::Mat& matte) {
    const cutout::EdgeGrid grid = cutout::make_edge_grid(rgba);
    cutout::refine_matte(rgba, grid, matte, cutout::RefineMethod::kGuided);
    cutout::decontaminate(rgba, grid, matte);
  });
}

}  // namespace

BENCHMARK(BM_CutOutBaseline)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_Grid)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_Refine)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_RefineWithoutColourPrior)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_Decontaminate)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_DecontaminateSweepingEveryPixel)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_RefineAndDecontaminate)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

BENCHMARK_MAIN();
