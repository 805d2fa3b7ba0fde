// cutout eval --images DIR --masks DIR: cut-out quality against ground-truth masks.
#include <algorithm>
#include <cmath>
#include <cstdlib>
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
#include "core/compose.h"
#include "core/edges.h"
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
  std::string images, masks, alphas, save_alphas, compare_model, backgrounds;
  std::string refine;  // empty: the pipeline's default for a model, none for --alphas
  double network_scale = 1.0;
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
  // With --foreground-on: the colour error of the decontaminated cut-out and of the photo's own
  // colour (no decontamination) on a composite with a known foreground.
  // fg_true_alpha: the same estimate made from the true alpha, the estimator's own error apart
  // from the matte's.
  double fg_error = 0, fg_baseline = 0, fg_true_alpha = 0;
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

void add_scaled(MatteScore& sum, const MatteScore& s, double k) {
  sum.mae += s.mae * k;
  sum.iou += s.iou * k;
  sum.boundary_iou += s.boundary_iou * k;
}

void add_scaled(SoftAlphaScore& sum, const SoftAlphaScore& s, double k) {
  sum.sad += s.sad * k;
  sum.mse += s.mse * k;
  sum.mae += s.mae * k;
  sum.band_mae += s.band_mae * k;
}

void print_row(const std::string& name, const Row& r, bool foreground) {
  std::printf("%-16s MAE %.4f  IoU %.4f  bIoU %.4f  SAD %6.2f  MSE %.4f  alpha MAE %.4f  band MAE %.4f",
              name.c_str(), r.score.mae, r.score.iou, r.score.boundary_iou, r.soft.sad, r.soft.mse,
              r.soft.mae, r.soft.band_mae);
  if (foreground) {
    std::printf("  fg %.4f (photo %.4f, from the true alpha %.4f)", r.fg_error, r.fg_baseline,
                r.fg_true_alpha);
  }
  std::printf("  %5.0f ms\n", r.ms);
}

int run_eval(EvalArgs args) {
  // Precomputed alphas (another tool's, say) are scored as they are unless --refine is given.
  if (args.refine.empty())
    args.refine = refine_name(args.alphas.empty() ? kDefaultRefine : RefineMethod::kNone);
  const RefineMethod refine = parse_refine(args.refine);
  // The model's matte at the photo's size, refined as the pipeline refines it.
  auto refine_in_place = [&](const cv::Mat& photo, cv::Mat& matte) {
    if (refine != RefineMethod::kNone) refine_matte(photo, make_edge_grid(photo), matte, refine);
  };
  // With --network-scale below 1 the network sees the photo that much smaller and its matte is
  // resized up to the photo: how a 12 MP photo meets a 1024-pixel network (scale about 1/4),
  // emulated on the eval set's photos, which are smaller than the network's input.
  auto predict = [&](Segmenter& s, const cv::Mat& photo) {
    StageTimings timings;
    cv::Mat matte;
    if (args.network_scale < 1.0) {
      cv::Mat reduced;
      cv::resize(photo, reduced, scaled_size(photo.size(), args.network_scale), 0, 0, cv::INTER_AREA);
      cv::resize(s.predict_matte(reduced, timings), matte, photo.size(), 0, 0, cv::INTER_LINEAR);
    } else {
      matte = s.predict_matte(photo, timings);
    }
    refine_in_place(photo, matte);
    return matte;
  };
  std::vector<fs::path> backgrounds;
  if (!args.backgrounds.empty()) {
    for (const auto& [stem, path] : files_by_stem(args.backgrounds)) backgrounds.push_back(path);
    if (backgrounds.empty()) throw Error(ErrorCode::kInvalidArgument, "no photo in " + args.backgrounds);
  }
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
        refine_in_place(photo(), alpha);
      } else {
        alpha = predict(*segmenter, photo());
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
        cv::Mat theirs = predict(*other, photo());
        row.other_ms = watch.elapsed_ms();
        row.other = score_matte(theirs, truth);
        row.other_soft = score_soft_alpha(theirs, truth);
        row.vs_other = matte_mean_abs_diff(alpha, theirs);
      }
      if (segmenter && !backgrounds.empty()) {
        // The photo as the foreground F with its true alpha, on another photo: the model sees the
        // composite, and the estimate is scored against F where 0 < alpha < 1. F's soft pixels take
        // the colour of the nearest opaque one: the photo's own hold its old background.
        const fs::path& bg_path = backgrounds[rows.size() % backgrounds.size()];
        const cv::Mat foreground = nearest_opaque_colour(photo(), truth);
        const cv::Mat composite =
            composite_onto(foreground, truth,
                           cover_fit(decode_image(read_input(bg_path.string()), {}).pixels, truth.size()));
        const cv::Mat predicted = predict(*segmenter, composite);
        cv::Mat estimate = composite.clone();
        decontaminate(estimate, make_edge_grid(composite), predicted);
        row.fg_error = foreground_error(estimate, foreground, truth);
        cv::Mat from_truth = composite.clone();
        decontaminate(from_truth, make_edge_grid(composite), truth);
        row.fg_true_alpha = foreground_error(from_truth, foreground, truth);
        row.fg_baseline = foreground_error(composite, foreground, truth);
      }
      rows.push_back(row);
      if (!args.json) print_row(stem, row, !backgrounds.empty());
    } catch (const std::exception& e) {
      ++failures;
      std::fprintf(stderr, "cutout: eval %s: %s\n", stem.c_str(), error_text(e).c_str());
    }
  }
  if (rows.empty()) throw Error(ErrorCode::kInvalidArgument, "no image has a mask with the same name");

  Row mean;
  const double n = static_cast<double>(rows.size());
  for (const Row& r : rows) {
    add_scaled(mean.score, r.score, 1 / n);
    add_scaled(mean.soft, r.soft, 1 / n);
    add_scaled(mean.other, r.other, 1 / n);
    add_scaled(mean.other_soft, r.other_soft, 1 / n);
    mean.vs_other += r.vs_other / n;
    mean.fg_error += r.fg_error / n;
    mean.fg_baseline += r.fg_baseline / n;
    mean.fg_true_alpha += r.fg_true_alpha / n;
    mean.ms += r.ms / n;
  }
  auto scores = [](const MatteScore& m, const SoftAlphaScore& s) {
    return nlohmann::json{{"mae", m.mae},
                          {"iou", m.iou},
                          {"boundary_iou", m.boundary_iou},
                          {"sad", s.sad},
                          {"mse", s.mse},
                          {"alpha_mae", s.mae},
                          {"band_mae", s.band_mae},
                          {"band_pixels", s.band_pixels}};
  };
  auto foreground = [](const Row& r) {
    return nlohmann::json{
        {"error", r.fg_error}, {"baseline_error", r.fg_baseline}, {"error_true_alpha", r.fg_true_alpha}};
  };
  if (args.json) {
    nlohmann::json j;
    j["model"] = model_name;
    j["refine"] = args.refine;
    j["count"] = rows.size();
    j["failed"] = failures;
    for (const Row& r : rows) {
      nlohmann::json row = scores(r.score, r.soft);
      row["name"] = r.name;
      row["ms"] = r.ms;
      if (!backgrounds.empty()) row["foreground"] = foreground(r);
      if (other) {
        row["compare"] = scores(r.other, r.other_soft);
        row["compare"]["ms"] = r.other_ms;
        row["mean_abs_diff_vs_compare"] = r.vs_other;
      }
      j["images"].push_back(row);
    }
    j["mean"] = scores(mean.score, mean.soft);
    if (!backgrounds.empty()) j["mean"]["foreground"] = foreground(mean);
    if (other) {
      j["compare_model"] = other->model().name;
      j["compare_mean"] = scores(mean.other, mean.other_soft);
      j["mean_abs_diff_vs_compare"] = mean.vs_other;
    }
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    print_row("mean", mean, !backgrounds.empty());
    std::printf("(%zu images, model %s, refine %s)\n", rows.size(), model_name.c_str(), args.refine.c_str());
    if (other) {
      Row compare;
      compare.score = mean.other;
      compare.soft = mean.other_soft;
      print_row("compare", compare, false);
      std::printf("(model %s; mean |alpha - its alpha| %.5f)\n", other->model().name.c_str(), mean.vs_other);
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
  cmd->add_option("--refine", args->refine,
                  "matte refinement: none or guided (default: " + std::string(refine_name(kDefaultRefine)) +
                      " for a model, none for --alphas)");
  cmd->add_option("--network-scale", args->network_scale,
                  "the network sees each photo scaled by this (e.g. 0.25: as a 12 MP photo meets it) and "
                  "its matte is resized up to the photo")
      ->check(CLI::Range(0.01, 1.0))
      ->capture_default_str();
  cmd->add_option("--foreground-on", args->backgrounds,
                  "folder of background photos: also score colour decontamination on composites of each "
                  "photo (with its true soft alpha as --masks) over one of them");
  cmd->add_flag("--json", args->json, "print JSON");
  args->model.add_to(*cmd);
  set_command_run(*cmd, exit_status, "eval", [args] { return run_eval(*args); });
}

}  // namespace cutout::cli
