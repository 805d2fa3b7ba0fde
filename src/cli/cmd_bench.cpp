// cutout bench --image F: model load, first run, bare Session::Run and the whole pipeline,
// measured in one process on the same image, so the ratio pipeline / bare run is fair on a
// noisy machine (bare and pipeline runs alternate).
#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/effects.h"
#include "core/error.h"
#include "core/matte.h"
#include "core/pipeline.h"
#include "core/timer.h"
#include "inference/segmenter.h"

namespace cutout::cli {
namespace {

struct BenchArgs {
  std::string image;
  int runs = 5;
  std::string format = "png";
  std::string effects;
  std::string refine{refine_name(kDefaultRefine)};
  bool decontaminate = kDefaultDecontaminate;
  bool json = false;
  double price_per_hour = 0;
  std::string arena = "on", mem_pattern = "off", opt_level = "all", spinning = "on";
  std::string compare_model;  // a second model whose bare runs alternate with the first's
  std::string save_optimized, profile;
  ModelOptions model;
};

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

bool on_off(const std::string& v, const char* name) {
  if (v == "on") return true;
  if (v == "off") return false;
  throw Error(ErrorCode::kInvalidArgument, std::string(name) + " must be on or off");
}

int run_bench(const BenchArgs& args) {
  if (args.runs < 1) throw Error(ErrorCode::kInvalidArgument, "--runs must be at least 1");
  const std::vector<uint8_t> bytes = read_input(args.image);
  RemoveOptions options;
  options.format = parse_output_format(args.format);
  if (!args.effects.empty()) options.effects = parse_effect_list(args.effects);
  options.refine = parse_refine(args.refine);
  options.decontaminate = args.decontaminate;
  SessionConfig config = args.model.session_config();
  config.cpu_mem_arena = on_off(args.arena, "--ort-arena");
  config.mem_pattern = on_off(args.mem_pattern, "--ort-mem-pattern");
  config.allow_spinning = on_off(args.spinning, "--ort-spinning");
  config.graph_optimization = parse_graph_optimization(args.opt_level);
  args.model.apply_cv_threads();

  SessionConfig first_config = config;
  first_config.optimized_model_path = args.save_optimized;
  first_config.profile_prefix = args.profile;
  Segmenter segmenter(args.model.descriptor(), first_config);
  OrtSession& session = segmenter.session();
  const double load_ms = session.load_ms();
  // The second model, loaded after the first (each session's creation is timed on its own).
  std::unique_ptr<Segmenter> other;
  if (!args.compare_model.empty()) {
    other = std::make_unique<Segmenter>(args.model.with_model(args.compare_model).descriptor(), config);
    if (other->session().input_width() != session.input_width() ||
        other->session().input_height() != session.input_height()) {
      throw Error(ErrorCode::kInvalidArgument, "--compare-model must take the same input size");
    }
  }

  // The bare run's input: this image, preprocessed once (untimed).
  DecodedImage decoded = decode_image(bytes, options.decode);
  const int width = decoded.pixels.cols, height = decoded.pixels.rows;
  image_to_tensor(decoded.pixels, session.input_width(), session.input_height(),
                  segmenter.model().normalization, session.input());
  decoded.pixels.release();
  Stopwatch watch;
  session.run();
  const double first_ms = watch.elapsed_ms();
  double other_first_ms = 0;
  std::vector<double> other_bare;
  if (other) {
    std::copy(session.input().begin(), session.input().end(), other->session().input().begin());
    watch.restart();
    other->session().run();
    other_first_ms = watch.elapsed_ms();
  }

  std::vector<double> bare, pipeline, decode, preprocess, inference, postprocess, refine, decontaminate,
      compose, effects, encode;
  size_t output_bytes = 0;
  for (int i = 0; i < args.runs; ++i) {
    watch.restart();
    session.run();
    bare.push_back(watch.elapsed_ms());
    if (other) {
      watch.restart();
      other->session().run();
      other_bare.push_back(watch.elapsed_ms());
    }
    RemoveResult r = remove_background(bytes, options, segmenter);
    pipeline.push_back(r.timings.total_ms);
    decode.push_back(r.timings.decode_ms);
    preprocess.push_back(r.timings.preprocess_ms);
    inference.push_back(r.timings.inference_ms);
    postprocess.push_back(r.timings.postprocess_ms);
    refine.push_back(r.timings.refine_ms);
    decontaminate.push_back(r.timings.decontaminate_ms);
    compose.push_back(r.timings.compose_ms);
    effects.push_back(r.timings.effects_ms);
    encode.push_back(r.timings.encode_ms);
    output_bytes = 0;
    for (const auto& o : r.outputs) output_bytes += o.image.bytes.size();
  }
  const double bare_ms = median(bare), pipeline_ms = median(pipeline);
  const double ratio = pipeline_ms / bare_ms;
  const uint64_t peak_rss = peak_rss_bytes();
  const double cost = args.price_per_hour / 3600.0 * pipeline_ms / 1000.0;
  const std::string profile_path = session.end_profiling();

  if (args.json) {
    nlohmann::json j = {
        {"image", {{"path", args.image}, {"width", width}, {"height", height}, {"bytes", bytes.size()}}},
        {"model", segmenter.model().name},
        {"provider", session.provider()},
        {"threads", session.threads()},
        {"runs", args.runs},
        {"format", args.format},
        {"effects", args.effects.empty() ? "color" : args.effects},
        {"refine", args.refine},
        {"decontaminate", args.decontaminate},
        {"ort_arena", config.cpu_mem_arena},
        {"ort_mem_pattern", config.mem_pattern},
        {"ort_spinning", config.allow_spinning},
        {"ort_opt_level", args.opt_level},
        {"model_load_ms", load_ms},
        {"first_inference_ms", first_ms},
        {"bare_run_ms",
         {{"median", bare_ms}, {"min", *std::min_element(bare.begin(), bare.end())}, {"all", bare}}},
        {"pipeline_ms",
         {{"median", pipeline_ms},
          {"min", *std::min_element(pipeline.begin(), pipeline.end())},
          {"all", pipeline}}},
        {"stages_median_ms",
         {{"decode", median(decode)},
          {"preprocess", median(preprocess)},
          {"inference", median(inference)},
          {"postprocess", median(postprocess)},
          {"refine", median(refine)},
          {"decontaminate", median(decontaminate)},
          {"compose", median(compose)},
          {"effects", median(effects)},
          {"encode", median(encode)}}},
        {"pipeline_over_bare", ratio},
        {"output_bytes", output_bytes},
        {"peak_rss_bytes", peak_rss},
    };
    if (args.price_per_hour > 0) j["cost_per_image_usd"] = cost;
    if (!profile_path.empty()) j["profile"] = profile_path;
    if (other) {
      const double other_ms = median(other_bare);
      j["compare"] = {{"model", other->model().name},
                      {"model_load_ms", other->session().load_ms()},
                      {"first_inference_ms", other_first_ms},
                      {"bare_run_ms",
                       {{"median", other_ms},
                        {"min", *std::min_element(other_bare.begin(), other_bare.end())},
                        {"all", other_bare}}},
                      {"bare_over_first_model", other_ms / bare_ms}};
    }
    std::printf("%s\n", j.dump(2).c_str());
    return kExitOk;
  }
  std::printf("image        %s, %dx%d, %zu bytes\n", args.image.c_str(), width, height, bytes.size());
  std::printf("model        %s (%s, %d threads)\n", segmenter.model().name.c_str(),
              std::string(session.provider()).c_str(), session.threads());
  std::printf("model load   %.0f ms\n", load_ms);
  std::printf("first run    %.0f ms\n", first_ms);
  std::printf("bare run     median %.0f ms over %d runs (min %.0f)\n", bare_ms, args.runs,
              *std::min_element(bare.begin(), bare.end()));
  std::printf("pipeline     median %.0f ms = %.3f x bare run (%s, %zu bytes out)\n", pipeline_ms, ratio,
              args.format.c_str(), output_bytes);
  std::printf(
      "  stages     decode %.1f, preprocess %.1f, inference %.1f, postprocess %.1f, refine %.1f, "
      "decontaminate %.1f, compose %.1f, effects %.1f, encode %.1f ms\n",
      median(decode), median(preprocess), median(inference), median(postprocess), median(refine),
      median(decontaminate), median(compose), median(effects), median(encode));
  if (other) {
    const double other_ms = median(other_bare);
    std::printf(
        "compare      %s: model load %.0f ms, first run %.0f ms, bare run median %.0f ms (min %.0f)"
        " = %.3f x %s's\n",
        other->model().name.c_str(), other->session().load_ms(), other_first_ms, other_ms,
        *std::min_element(other_bare.begin(), other_bare.end()), other_ms / bare_ms,
        segmenter.model().name.c_str());
  }
  std::printf("peak RSS     %.0f MB\n", static_cast<double>(peak_rss) / 1e6);
  if (!profile_path.empty()) std::printf("profile      %s\n", profile_path.c_str());
  if (args.price_per_hour > 0) {
    std::printf("cost         $%.6f per image at $%.4f/h\n", cost, args.price_per_hour);
  }
  return kExitOk;
}

}  // namespace

void add_bench_command(CLI::App& app, int& exit_status) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd =
      app.add_subcommand("bench", "time model load, first run, bare inference and the whole pipeline");
  cmd->add_option("--image", args->image, "photo to run on")->required();
  cmd->add_option("--runs", args->runs, "timed runs of each kind")->capture_default_str();
  cmd->add_option("--format", args->format, "output format of the pipeline runs")->capture_default_str();
  cmd->add_option("--effects", args->effects, "effects of the pipeline runs, e.g. color,bw,popart,dither");
  cmd->add_option("--refine", args->refine, "edge refinement of the pipeline runs: none or guided")
      ->check(CLI::IsMember(refine_names()))
      ->capture_default_str();
  cmd->add_option("--decontaminate", args->decontaminate, "edge colour estimation in the pipeline runs")
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "print JSON");
  cmd->add_option("--price-per-hour", args->price_per_hour,
                  "instance price in USD per hour, to report the cost per image")
      ->envname("CUTOUT_PRICE_PER_HOUR");
  cmd->add_option("--ort-arena", args->arena, "ONNX Runtime CPU memory arena: on or off")
      ->capture_default_str();
  cmd->add_option("--ort-mem-pattern", args->mem_pattern, "ONNX Runtime memory pattern: on or off")
      ->capture_default_str();
  cmd->add_option("--ort-spinning", args->spinning,
                  "idle ONNX Runtime threads spin between runs: on or off (`cutout serve` runs with it off)")
      ->capture_default_str();
  cmd->add_option("--ort-opt-level", args->opt_level,
                  "ONNX Runtime graph optimisation: basic, extended or all")
      ->capture_default_str();
  cmd->add_option(
      "--compare-model", args->compare_model,
      "a second model (name or path) whose bare runs alternate with the first's, in this process");
  cmd->add_option("--ort-save-optimized", args->save_optimized,
                  "write the graph ONNX Runtime optimised for the first model to this file");
  cmd->add_option("--ort-profile", args->profile,
                  "profile the first model's runs with ONNX Runtime's profiler; trace file prefix");
  args->model.add_to(*cmd);
  set_command_run(*cmd, exit_status, "bench", [args] { return run_bench(*args); });
}

}  // namespace cutout::cli
