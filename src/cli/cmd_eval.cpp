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
  std::string images, masks, alphas, save_alphas, compare_model;
  bool json = false;
  ModelOptions model;
};

struct Row {
  std::string name;
  MatteScore score;
  SoftAlphaScore soft;
  double ms = 0;
  // With --compare-model: the other model's scores and mean |alpha - its alpha|.
  MatteScore other;
  SoftAlphaScore other_soft;
  double vs_other = 0, other_ms = 0;
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
  std::unique_ptr<Segmenter> other;
  if (!args.compare_model.empty()) {
    const ModelOptions o = args.model.with_model(args.compare_model);
    other = std::make_unique<Segmenter>(o.descriptor(), o.session_config());
  }

  std::vector<Row> rows;
  int failures = 0;
  for (const auto& [stem, image_path] : images) {
    auto mask_it = masks.find(stem);
    if (mask_it == masks.end()) continue;  // images without ground truth are not scored
    try {
      Stopwatch watch;
      cv::Mat pixels;  // the photo, decoded once for every model that runs on it
      auto photo = [&]() -> const cv::Mat& {
        if (pixels.empty()) pixels = decode_image(read_input(image_path.string()), {}).pixels;
        return pixels;
      };
      cv::Mat alpha;
      if (alphas) {
        auto it = alphas->find(stem);
        if (it == alphas->end()) throw Error(ErrorCode::kIo, "no alpha file for " + stem);
        alpha = read_grey(it->second);
      } else {
        StageTimings timings;
        alpha = segmenter->predict_matte(photo(), timings);
      }
      const double ms = watch.elapsed_ms();
      cv::Mat truth = read_grey(mask_it->second);
      if (alpha.size() != truth.size()) {
        throw Error(ErrorCode::kInvalidArgument, "mask size differs from the image's");
      }
      if (!args.save_alphas.empty()) {
        write_file_atomic(fs::path(args.save_alphas) / (stem + ".png"), encode_png(alpha));
      }
      Row row;
      row.name = stem;
      row.score = score_matte(alpha, truth);
      row.soft = score_soft_alpha(alpha, truth);
      row.ms = ms;
      if (other) {
        watch.restart();
        StageTimings timings;
        cv::Mat theirs = other->predict_matte(photo(), timings);
        row.other_ms = watch.elapsed_ms();
        row.other = score_matte(theirs, truth);
        row.other_soft = score_soft_alpha(theirs, truth);
        row.vs_other = matte_mean_abs_diff(alpha, theirs);
      }
      rows.push_back(row);
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

  MatteScore mean, other_mean;
  SoftAlphaScore soft, other_soft;
  double vs_other = 0;
  const double n = static_cast<double>(rows.size());
  for (const Row& r : rows) {
    mean.mae += r.score.mae / n;
    mean.iou += r.score.iou / n;
    mean.boundary_iou += r.score.boundary_iou / n;
    soft.sad += r.soft.sad / n;
    soft.mse += r.soft.mse / n;
    other_mean.mae += r.other.mae / n;
    other_mean.iou += r.other.iou / n;
    other_mean.boundary_iou += r.other.boundary_iou / n;
    other_soft.sad += r.other_soft.sad / n;
    other_soft.mse += r.other_soft.mse / n;
    vs_other += r.vs_other / n;
  }
  auto scores = [](const MatteScore& m, const SoftAlphaScore& s) {
    return nlohmann::json{
        {"mae", m.mae}, {"iou", m.iou}, {"boundary_iou", m.boundary_iou}, {"sad", s.sad}, {"mse", s.mse}};
  };
  if (args.json) {
    nlohmann::json j;
    j["model"] = model_name;
    j["count"] = rows.size();
    j["failed"] = failures;
    for (const Row& r : rows) {
      nlohmann::json row = scores(r.score, r.soft);
      row["name"] = r.name;
      row["ms"] = r.ms;
      if (other) {
        row["compare"] = scores(r.other, r.other_soft);
        row["compare"]["ms"] = r.other_ms;
        row["mean_abs_diff_vs_compare"] = r.vs_other;
      }
      j["images"].push_back(row);
    }
    j["mean"] = scores(mean, soft);
    if (other) {
      j["compare_model"] = other->model().name;
      j["compare_mean"] = scores(other_mean, other_soft);
      j["mean_abs_diff_vs_compare"] = vs_other;
    }
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("%-24s MAE %.4f  IoU %.4f  boundary IoU %.4f  SAD %.2f  (%zu images, model %s)\n", "mean",
                mean.mae, mean.iou, mean.boundary_iou, soft.sad, rows.size(), model_name.c_str());
    if (other) {
      std::printf(
          "%-24s MAE %.4f  IoU %.4f  boundary IoU %.4f  SAD %.2f  (model %s; mean |alpha - its alpha| "
          "%.5f)\n",
          "compare", other_mean.mae, other_mean.iou, other_mean.boundary_iou, other_soft.sad,
          other->model().name.c_str(), vs_other);
    }
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
  cmd->add_option(
      "--compare-model", args->compare_model,
      "also run this model (name or path) on each photo: its scores and mean |alpha - its alpha|");
  cmd->add_flag("--json", args->json, "print JSON");
  args->model.add_to(*cmd);
  set_command_run(*cmd, exit_status, "eval", [args] { return run_eval(*args); });
}

}  // namespace cutout::cli
