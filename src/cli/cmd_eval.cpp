// cutout eval --images DIR --masks DIR: cut-out quality against ground-truth masks.
#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/image_encode.h"
#include "core/image_io.h"
#include "core/quality_metrics.h"
#include "core/timer.h"
#include "inference/segmenter.h"

namespace fs = std::filesystem;

namespace cutout::cli {
namespace {

struct EvalArgs {
  std::string images, masks, alphas, save_alphas;
  bool json = false;
  ModelOptions model;
};

struct Row {
  std::string name;
  MatteScore score;
  double ms = 0;
};

bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  static const char* kExts[] = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"};
  return std::any_of(std::begin(kExts), std::end(kExts), [&](const char* e) { return ext == e; });
}

// stem -> path of the image files in a folder, sorted by stem.
std::map<std::string, fs::path> files_by_stem(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(ErrorCode::kInvalidArgument, "not a folder: " + dir);
  std::map<std::string, fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && is_image_file(entry.path()))
      out[entry.path().stem().string()] = entry.path();
  }
  return out;
}

// A mask or alpha file as 8-bit grey (grey files decode as RGB with equal channels).
cv::Mat read_grey(const fs::path& path) {
  auto bytes = read_input(path.string());
  cv::Mat pixels = decode_image(bytes, {}).pixels;
  cv::Mat grey;
  cv::extractChannel(pixels, grey, 0);
  return grey;
}

int run_eval(const EvalArgs& args) {
  auto images = files_by_stem(args.images);
  auto masks = files_by_stem(args.masks);
  std::optional<std::map<std::string, fs::path>> alphas;
  if (!args.alphas.empty()) alphas = files_by_stem(args.alphas);
  if (!args.save_alphas.empty()) fs::create_directories(args.save_alphas);

  std::unique_ptr<Segmenter> segmenter;
  std::string model_name = "precomputed:" + args.alphas;
  if (!alphas) {
    args.model.apply_cv_threads();
    segmenter = std::make_unique<Segmenter>(args.model.descriptor(), args.model.session_config());
    model_name = segmenter->model().name;
  }

  std::vector<Row> rows;
  int failures = 0;
  for (const auto& [stem, image_path] : images) {
    auto mask_it = masks.find(stem);
    if (mask_it == masks.end()) continue;  // images without ground truth are not scored
    try {
      Stopwatch watch;
      cv::Mat alpha;
      if (alphas) {
        auto it = alphas->find(stem);
        if (it == alphas->end()) throw Error(ErrorCode::kIo, "no alpha file for " + stem);
        alpha = read_grey(it->second);
      } else {
        auto bytes = read_input(image_path.string());
        StageTimings timings;
        alpha = segmenter->predict_matte(decode_image(bytes, {}).pixels, timings);
      }
      const double ms = watch.elapsed_ms();
      cv::Mat truth = read_grey(mask_it->second);
      if (alpha.size() != truth.size()) {
        throw Error(ErrorCode::kInvalidArgument, "mask size differs from the image's");
      }
      if (!args.save_alphas.empty()) {
        write_file_atomic(fs::path(args.save_alphas) / (stem + ".png"), encode_png(alpha));
      }
      rows.push_back({stem, score_matte(alpha, truth), ms});
      if (!args.json) {
        std::printf("%-24s MAE %.4f  IoU %.4f  boundary IoU %.4f  %6.0f ms\n", stem.c_str(),
                    rows.back().score.mae, rows.back().score.iou, rows.back().score.boundary_iou, ms);
      }
    } catch (const std::exception& e) {
      ++failures;
      std::fprintf(stderr, "cutout: eval %s: %s\n", stem.c_str(), error_text(e).c_str());
    }
  }
  if (rows.empty()) throw Error(ErrorCode::kInvalidArgument, "no image has a mask with the same name");

  MatteScore mean;
  for (const Row& r : rows) {
    mean.mae += r.score.mae / static_cast<double>(rows.size());
    mean.iou += r.score.iou / static_cast<double>(rows.size());
    mean.boundary_iou += r.score.boundary_iou / static_cast<double>(rows.size());
  }
  if (args.json) {
    nlohmann::json j;
    j["model"] = model_name;
    j["count"] = rows.size();
    j["failed"] = failures;
    for (const Row& r : rows) {
      j["images"].push_back({{"name", r.name},
                             {"mae", r.score.mae},
                             {"iou", r.score.iou},
                             {"boundary_iou", r.score.boundary_iou},
                             {"ms", r.ms}});
    }
    j["mean"] = {{"mae", mean.mae}, {"iou", mean.iou}, {"boundary_iou", mean.boundary_iou}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("%-24s MAE %.4f  IoU %.4f  boundary IoU %.4f  (%zu images, model %s)\n", "mean", mean.mae,
                mean.iou, mean.boundary_iou, rows.size(), model_name.c_str());
  }
  return failures ? kExitFailed : kExitOk;
}

}  // namespace

void add_eval_command(CLI::App& app, int& exit_status) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd =
      app.add_subcommand("eval", "score cut-outs against ground-truth masks (MAE, IoU, boundary IoU)");
  cmd->add_option("--images", args->images, "folder of photos")->required();
  cmd->add_option("--masks", args->masks, "folder of masks with the same names (0 bg, 255 fg, 128 ignored)")
      ->required();
  cmd->add_option("--alphas", args->alphas, "score these precomputed alpha files instead of running a model");
  cmd->add_option("--save-alphas", args->save_alphas, "write each predicted alpha as <name>.png here");
  cmd->add_flag("--json", args->json, "print JSON");
  args->model.add_to(*cmd);
  set_command_run(*cmd, exit_status, "eval", [args] { return run_eval(*args); });
}

}  // namespace cutout::cli
