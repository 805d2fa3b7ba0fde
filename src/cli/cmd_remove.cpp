// cutout remove IN... [-o OUTDIR|FILE|-]: cut-outs of a batch of photos, one model load.
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "cli/cli_common.h"
#include "cli/commands.h"
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
  bool mask = false;
  bool quiet = false;
  uint64_t max_pixels = DecodeOptions{}.max_pixels;
  ModelOptions model;
};

// Where each result goes: one file, stdout, or a folder of <stem>.<ext> files.
class OutputPlan {
 public:
  OutputPlan(const RemoveArgs& args, OutputFormat format) : format_(format) {
    const std::string& out = args.output;
    if (out == "-" || (out.empty() && args.inputs.size() == 1 && args.inputs[0] == "-")) {
      if (args.inputs.size() != 1) throw Error(ErrorCode::kInvalidArgument, "-o - takes exactly one input");
      if (args.mask) throw Error(ErrorCode::kInvalidArgument, "--mask needs a file or folder output, not stdout");
      to_stdout_ = true;
      return;
    }
    std::error_code ec;
    if (out.empty()) {
      dir_ = ".";
      suffix_ = ".cutout";
    } else if (args.inputs.size() > 1 || out.ends_with('/') || fs::is_directory(out, ec)) {
      dir_ = out;
      fs::create_directories(dir_, ec);
      if (ec) throw Error(ErrorCode::kIo, "cannot create folder " + out + ": " + ec.message());
    } else {
      file_ = out;
    }
  }

  bool to_stdout() const { return to_stdout_; }

  // The cut-out's path for an input; unique within the batch (a-2.png when two inputs share
  // a stem).
  fs::path cutout_path(const std::string& input) {
    if (!file_.empty()) return file_;
    std::string stem = input == "-" ? "stdin" : fs::path(input).stem().string();
    stem += suffix_;
    std::string name = stem;
    for (int n = 2; used_.count(name); ++n) name = stem + "-" + std::to_string(n);
    used_[name] = true;
    return dir_ / (name + "." + std::string(output_extension(format_)));
  }

  static fs::path mask_path(const fs::path& cutout) {
    fs::path p = cutout;
    p.replace_extension();
    p += ".mask.png";
    return p;
  }

 private:
  OutputFormat format_;
  bool to_stdout_ = false;
  fs::path dir_, file_;
  std::string suffix_;
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
  effective_background(options);  // a bad format/background pair fails before the model loads
  OutputPlan plan(args, options.format);

  if (args.model.threads > 0) cv::setNumThreads(args.model.threads);
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
        write_stdout(result.cutout.bytes);
      } else {
        fs::path path = plan.cutout_path(input);
        write_file_atomic(path, result.cutout.bytes);
        if (result.mask) write_file_atomic(OutputPlan::mask_path(path), result.mask->bytes);
        if (args.inputs.size() == 1 && !args.quiet) {
          std::fprintf(stderr, "%s -> %s (%dx%d, %.0f ms)\n", input.c_str(), path.c_str(), result.width,
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
