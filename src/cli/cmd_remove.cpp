// cutout remove IN... [-o OUTDIR|FILE|-]: cut-outs of a batch of photos, one model load.
#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/effects.h"
#include "core/error.h"
#include "core/pipeline.h"
#include "inference/segmenter.h"

namespace fs = std::filesystem;

namespace cutout::cli {
namespace {

struct RemoveArgs {
  std::vector<std::string> inputs;
  std::string output;
  std::string format;
  std::string background;
  std::string effects;              // empty: the colour cut-out alone, named as before
  std::vector<std::string> params;  // NAME=VALUE effect parameters
  bool mask = false;
  bool quiet = false;
  uint64_t max_pixels = DecodeOptions{}.max_pixels;
  ModelOptions model;
};

bool looks_like_image_file(const fs::path& p) {
  const std::string ext = p.extension().string();
  if (ext.size() < 2) return false;
  try {
    parse_output_format(ext.substr(1));
    return true;
  } catch (const Error&) {
    return false;
  }
}

// Where each result goes: one file, stdout, or files named after the input in a folder:
// <name>.<ext> (or <name>.cutout.<ext> in the current folder), and with --effects
// <name>.<effect>.<ext>; the mask is <name>.mask.png.
class OutputPlan {
 public:
  OutputPlan(const RemoveArgs& args, OutputFormat format, size_t effects_per_input)
      : format_(format), per_effect_(!args.effects.empty()) {
    const std::string& out = args.output;
    const bool single = args.inputs.size() == 1 && effects_per_input == 1;
    if (out == "-" || (out.empty() && args.inputs.size() == 1 && args.inputs[0] == "-")) {
      if (!single || args.mask) {
        throw Error(ErrorCode::kInvalidArgument, "stdout takes exactly one input and one output (no --mask)");
      }
      to_stdout_ = true;
      return;
    }
    std::error_code ec;
    if (out.empty()) {
      dir_ = ".";
      default_dir_ = true;
    } else if (!single && !fs::is_directory(out, ec) && looks_like_image_file(out)) {
      throw Error(ErrorCode::kInvalidArgument,
                  "-o " + out + " names one file, but there are several outputs: give a folder");
    } else if (!single || out.ends_with('/') || fs::is_directory(out, ec)) {
      dir_ = out;
      fs::create_directories(dir_, ec);
      if (ec) throw Error(ErrorCode::kIo, "cannot create folder " + out + ": " + ec.message());
    } else {
      file_ = out;
    }
  }

  bool to_stdout() const { return to_stdout_; }

  // Reserves the name stem of an input: unique within the batch (a-2 when two inputs share one).
  fs::path base_for(const std::string& input) {
    std::string stem = input == "-" ? "stdin" : fs::path(input).stem().string();
    std::string name = stem;
    for (int n = 2; used_.count(name); ++n) name = stem + "-" + std::to_string(n);
    used_[name] = true;
    return dir_ / name;
  }

  fs::path path_for(const fs::path& base, const std::string& output) const {
    fs::path p = base;
    if (!file_.empty()) {
      if (output != "mask") return file_;
      p = file_;
      p.replace_extension();
    }
    if (output == "mask") return p += ".mask.png";
    if (per_effect_) p += "." + output;
    else if (default_dir_) p += ".cutout";
    return p += "." + std::string(output_extension(format_));
  }

 private:
  OutputFormat format_;
  bool per_effect_;
  bool to_stdout_ = false;
  bool default_dir_ = false;
  fs::path dir_, file_;
  std::map<std::string, bool> used_;
};

OutputFormat choose_format(const RemoveArgs& args) {
  if (!args.format.empty()) return parse_output_format(args.format);
  // A single output file's extension decides, so `-o out.webp` does what it says.
  if (args.inputs.size() == 1 && !args.output.empty() && args.output != "-") {
    auto ext = fs::path(args.output).extension().string();
    if (ext.size() > 1 && !fs::is_directory(args.output)) {
      try {
        return parse_output_format(ext.substr(1));
      } catch (const Error&) {
      }
    }
  }
  return OutputFormat::kPng;
}

int run_remove(const RemoveArgs& args) {
  RemoveOptions options;
  options.format = choose_format(args);
  if (!args.background.empty()) options.background = parse_background(args.background);
  options.mask = args.mask;
  options.decode.max_pixels = args.max_pixels;
  if (!args.effects.empty()) options.effects = parse_effect_list(args.effects);
  for (const std::string& p : args.params) {
    const size_t eq = p.find('=');
    if (eq == std::string::npos) throw Error(ErrorCode::kInvalidArgument, "--param wants NAME=VALUE, got '" + p + "'");
    set_effect_param(options.effect_params, p.substr(0, eq), p.substr(eq + 1));
  }
  effective_background(options);  // bad options fail before the model loads
  OutputPlan plan(args, options.format, std::max<size_t>(1, options.effects.size()));

  args.model.apply_cv_threads();
  Segmenter segmenter(args.model.descriptor(), args.model.session_config());

  ProgressBar bar(args.inputs.size(), args.inputs.size() > 1 && !args.quiet);
  int failures = 0;
  for (size_t i = 0; i < args.inputs.size(); ++i) {
    const std::string& input = args.inputs[i];
    bar.update(i, input);
    try {
      std::vector<uint8_t> bytes = read_input(input);
      RemoveResult result = remove_background(bytes, options, segmenter);
      if (plan.to_stdout()) {
        write_stdout(result.outputs.at(0).image.bytes);
      } else {
        const fs::path base = plan.base_for(input);
        std::string written;
        for (const NamedOutput& out : result.outputs) {
          const fs::path path = plan.path_for(base, out.name);
          write_file_atomic(path, out.image.bytes);
          written += (written.empty() ? "" : ", ") + path.string();
        }
        if (args.inputs.size() == 1 && !args.quiet) {
          std::fprintf(stderr, "%s -> %s (%dx%d, %.0f ms)\n", input.c_str(), written.c_str(), result.width,
                       result.height, result.timings.total_ms);
        }
      }
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kModel) throw;  // the model is broken: no point going on
      ++failures;
      bar.message("cutout: skipped " + input + ": " + error_text(e));
    } catch (const std::exception& e) {
      ++failures;
      bar.message("cutout: skipped " + input + ": " + error_text(e));
    }
  }
  bar.update(args.inputs.size(), "done");
  bar.finish();
  if (failures && args.inputs.size() > 1) {
    std::fprintf(stderr, "cutout: %d of %zu inputs failed\n", failures, args.inputs.size());
  }
  return failures ? kExitFailed : kExitOk;
}

}  // namespace

void add_remove_command(CLI::App& app, int& exit_status) {
  auto args = std::make_shared<RemoveArgs>();
  CLI::App* cmd = app.add_subcommand("remove", "cut out the subject of photos (transparent background)");
  cmd->add_option("inputs", args->inputs, "photos (JPEG, PNG, WebP, BMP, TIFF, GIF); - reads stdin")->required();
  cmd->add_option("-o,--output", args->output,
                  "output file, folder, or - for stdout (default: <name>.cutout.<ext> here)");
  cmd->add_option("--format", args->format, "png, webp or jpeg (default: from -o's extension, else png)");
  cmd->add_option("--background", args->background,
                  "transparent, white, black, #RRGGBB or #RRGGBBAA (default: transparent; white for jpeg)");
  cmd->add_option("--effects", args->effects,
                  "comma list of color, bw, popart, dither: one file each, <name>.<effect>.<ext>");
  cmd->add_option("--param", args->params,
                  "effect parameter NAME=VALUE (repeatable): bw_strength=0..2, popart_palette=warhol|electric|"
                  "sunset|mint, popart_grid=1x1|2x2, popart_background=transparent|palette, "
                  "dither_method=floyd|atkinson|bayer");
  cmd->add_flag("--mask", args->mask, "also write the alpha matte as <name>.mask.png");
  cmd->add_option("--max-pixels", args->max_pixels, "refuse images with more pixels (checked from the header)")
      ->capture_default_str();
  cmd->add_flag("-q,--quiet", args->quiet, "no progress bar or summary");
  args->model.add_to(*cmd);
  cmd->callback([args, &exit_status] {
    try {
      exit_status = run_remove(*args);
    } catch (const std::exception& e) {
      exit_status = report_error("remove", e);
    }
  });
}

}  // namespace cutout::cli
