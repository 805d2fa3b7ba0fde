// cutout calibrate --model INSTRUMENTED --images DIR --out STATS: activation ranges and histograms
// for static int8 quantisation (scripts/isnet_qdq.py instrument / ranges / quantize; make qdq-calibrate).
#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/image_io.h"
#include "core/matte.h"
#include "core/timer.h"
#include "inference/calibration.h"
#include "inference/model_registry.h"

namespace fs = std::filesystem;

namespace cutout::cli {
namespace {

struct CalibrateArgs {
  std::string model, images, out;
  int bins = 2048, size = 1024, threads = 0;
};

int run_calibrate(const CalibrateArgs& args) {
  std::vector<fs::path> files;
  std::error_code ec;
  if (!fs::is_directory(args.images, ec))
    throw Error(ErrorCode::kInvalidArgument, "not a folder: " + args.images);
  for (const auto& e : fs::directory_iterator(args.images)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  // The ISNet input, as the pipeline makes it: the registry's normalisation of the kind.
  const Normalization norm = custom_model(args.model, ModelKind::kIsnet).normalization;
  std::vector<std::vector<float>> inputs;
  std::vector<std::string> names;
  for (const auto& f : files) {
    try {
      DecodedImage d = decode_image(read_input(f.string()), {});
      std::vector<float> t(3 * static_cast<size_t>(args.size) * static_cast<size_t>(args.size));
      image_to_tensor(d.pixels, args.size, args.size, norm, t);
      inputs.push_back(std::move(t));
      names.push_back(f.filename().string());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "cutout: calibrate: skipping %s: %s\n", f.c_str(), error_text(e).c_str());
    }
  }
  CalibrationConfig config;
  config.bins = args.bins;
  config.threads = args.threads;
  Stopwatch watch;
  config.progress = [&](int pass, size_t k) {
    std::fprintf(stderr, "\rcalibrate: pass %d/2, image %zu/%zu (%.0f s)", pass, k + 1, inputs.size(),
                 watch.elapsed_ms() / 1000);
    if (pass == 2 && k + 1 == inputs.size()) std::fprintf(stderr, "\n");
  };
  auto stats = record_activations(args.model, inputs, args.size, args.size, config);
  nlohmann::json j;
  j["images"] = names;
  j["bins"] = args.bins;
  j["tensors"] = nlohmann::json::object();
  for (const auto& s : stats) j["tensors"][s.name] = {{"min", s.min}, {"max", s.max}, {"hist", s.histogram}};
  const std::string text = j.dump() + "\n";
  write_file_atomic(args.out, std::vector<uint8_t>(text.begin(), text.end()));
  std::printf("%zu tensors over %zu images -> %s\n", stats.size(), inputs.size(), args.out.c_str());
  return kExitOk;
}

}  // namespace

void add_calibrate_command(CLI::App& app, int& exit_status) {
  auto args = std::make_shared<CalibrateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "calibrate", "record activation ranges and histograms of an instrumented model (int8 quantisation)");
  cmd->add_option("--model", args->model, "ONNX model whose extra outputs are the activations")->required();
  cmd->add_option("--images", args->images, "folder of calibration photos")->required();
  cmd->add_option("--out", args->out, "statistics JSON to write")->required();
  cmd->add_option("--bins", args->bins, "histogram bins per tensor")->capture_default_str();
  cmd->add_option("--size", args->size, "model input side")->capture_default_str();
  cmd->add_option("--threads", args->threads, "intra-op threads (0: all cores)");
  set_command_run(*cmd, exit_status, "calibrate", [args] { return run_calibrate(*args); });
}

}  // namespace cutout::cli
