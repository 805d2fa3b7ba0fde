// cutout remove IN... [-o OUTDIR|FILE|-]: cut-outs of a batch of photos, one model load.
#include <algorithm>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "cli/batch_plan.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/effects.h"
#include "core/error.h"
#include "core/pipeline.h"
#include "inference/segmenter.h"
#include "server/log.h"

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
  std::string refine{refine_name(kDefaultRefine)};
  bool decontaminate = kDefaultDecontaminate;
  bool quiet = false;
  std::string shard;  // INDEX/COUNT or auto; empty: every input
  std::string progress = "auto";
  bool skip_existing = false;
  uint64_t max_pixels = DecodeOptions{}.max_pixels;
  std::string crop = "none";  // none or subject, as the API's crop=
  int margin = 0;             // percent of the subject's size around the crop
  int max_side = 0;           // longest side of the outputs (0: the photo's)
  int blur_radius = 0;        // --background blur: px (0: 2.5 % of the longest side)
  bool shadow = false;
  std::string background_image;
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
  // items: the whole batch, before any sharding, so a shard names its outputs as the batch would.
  OutputPlan(const RemoveArgs& args, const std::vector<BatchItem>& items, OutputFormat format,
             size_t effects_per_input)
      : format_(format), per_effect_(!args.effects.empty()) {
    const std::string& out = args.output;
    const bool single = items.size() == 1 && !items[0].from_folder && effects_per_input == 1;
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

  // The output name stem of an item (unique within the batch: expand_inputs made it so).
  fs::path base_for(const BatchItem& item) const { return dir_ / item.name; }

  fs::path path_for(const fs::path& base, const std::string& output) const {
    fs::path p = base;
    if (!file_.empty()) {
      if (output != "mask") return file_;
      p = file_;
      p.replace_extension();
    }
    if (output == "mask") return p += ".mask.png";
    if (per_effect_)
      p += "." + output;
    else if (default_dir_)
      p += ".cutout";
    return p += "." + std::string(output_extension(format_));
  }

 private:
  OutputFormat format_;
  bool per_effect_;
  bool to_stdout_ = false;
  bool default_dir_ = false;
  fs::path dir_, file_;
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

// Progress of a batch: a bar on a terminal, or one JSON line per input and a summary line per
// task (--progress json: for batch jobs, whose stdout goes to Cloud Logging), or nothing.
class BatchReport {
 public:
  BatchReport(const RemoveArgs& args, size_t total_inputs, size_t shard_inputs, const Shard& shard)
      : json_(args.progress == "json"),
        single_(shard_inputs == 1 && total_inputs == 1),
        quiet_(args.quiet || args.progress == "none"),
        total_inputs_(total_inputs),
        shard_(shard),
        bar_(shard_inputs, !json_ && !quiet_ && shard_inputs > 1),
        shard_inputs_(shard_inputs) {}

  void starting(size_t i, const std::string& input) { bar_.update(i, input); }

  void written(const std::string& input, const std::vector<std::string>& paths, const RemoveResult& result) {
    ++processed_;
    if (json_) {
      log_.info("processed " + input, with_position({{"input", input},
                                                     {"outputs", paths},
                                                     {"width", result.width},
                                                     {"height", result.height},
                                                     {"ms", result.timings.total_ms}}));
    } else if (single_ && !quiet_) {
      std::string joined;
      for (const std::string& p : paths) joined += (joined.empty() ? "" : ", ") + p;
      std::fprintf(stderr, "%s -> %s (%dx%d, %.0f ms)\n", input.c_str(), joined.c_str(), result.width,
                   result.height, result.timings.total_ms);
    }
  }

  void skipped_existing(const std::string& input) {
    ++skipped_;
    if (json_) log_.info("skipped " + input + ": its outputs exist", with_position({{"input", input}}));
  }

  void failed(const std::string& input, const std::exception& e) {
    ++failed_;
    if (json_) {
      log_.error("failed " + input, with_position({{"input", input}, {"error", error_text(e)}}));
    } else {
      bar_.message("cutout: skipped " + input + ": " + error_text(e));
    }
  }

  int finish() {
    bar_.update(shard_inputs_, "done");
    bar_.finish();
    const double seconds = watch_.elapsed_ms() / 1000.0;
    if (json_) {
      log_.log(failed_ ? server::Severity::kWarning : server::Severity::kInfo, "batch summary",
               {{"shard", shard_text()},
                {"shard_source", shard_.source},
                {"inputs_total", total_inputs_},
                {"inputs", shard_inputs_},
                {"processed", processed_},
                {"skipped_existing", skipped_},
                {"failed", failed_},
                {"seconds", seconds},
                {"images_per_second", seconds > 0 ? static_cast<double>(processed_) / seconds : 0.0}});
    } else if (failed_ && shard_inputs_ > 1) {
      std::fprintf(stderr, "cutout: %zu of %zu inputs failed\n", failed_, shard_inputs_);
    }
    return failed_ ? kExitFailed : kExitOk;
  }

 private:
  std::string shard_text() const { return std::to_string(shard_.index) + "/" + std::to_string(shard_.count); }

  nlohmann::json with_position(nlohmann::json fields) const {
    fields["done"] = processed_ + skipped_ + failed_;
    fields["total"] = shard_inputs_;
    fields["shard"] = shard_text();
    return fields;
  }

  const bool json_, single_, quiet_;
  const size_t total_inputs_;
  const Shard shard_;
  ProgressBar bar_;
  const size_t shard_inputs_;
  size_t processed_ = 0, skipped_ = 0, failed_ = 0;
  server::Logger log_{stdout};
  Stopwatch watch_;
};

bool outputs_exist(const OutputPlan& plan, const fs::path& base, const RemoveOptions& options) {
  std::vector<std::string> names;
  for (Effect e : options.effects) names.emplace_back(effect_name(e));
  if (names.empty()) names.emplace_back("color");
  if (options.mask) names.emplace_back("mask");
  std::error_code ec;
  return std::all_of(names.begin(), names.end(),
                     [&](const std::string& n) { return fs::exists(plan.path_for(base, n), ec); });
}

int run_remove(const RemoveArgs& args) {
  RemoveOptions options;
  options.format = choose_format(args);
  if (args.background == "blur") {
    options.blur_background = true;
    options.blur_radius = args.blur_radius;
  } else if (!args.background.empty()) {
    options.background = parse_background(args.background);
  }
  options.shadow = args.shadow;
  if (!args.background_image.empty()) {
    options.background_image = decode_image(read_input(args.background_image), {}).pixels;
  }
  options.mask = args.mask;
  options.refine = parse_refine(args.refine);
  options.decontaminate = args.decontaminate;
  options.decode.max_pixels = args.max_pixels;
  if (args.crop != "none" && args.crop != "subject") {
    throw Error(ErrorCode::kInvalidArgument, "--crop: '" + args.crop + "' (allowed: none, subject)");
  }
  options.crop_subject = args.crop == "subject";
  options.margin_percent = args.margin;
  options.max_side = args.max_side;
  if (!args.effects.empty()) options.effects = parse_effect_list(args.effects);
  for (const std::string& p : args.params) {
    const size_t eq = p.find('=');
    if (eq == std::string::npos)
      throw Error(ErrorCode::kInvalidArgument, "--param wants NAME=VALUE, got '" + p + "'");
    set_effect_param(options.effect_params, p.substr(0, eq), p.substr(eq + 1));
  }
  effective_background(options);  // bad options fail before the model loads
  const Shard shard = args.shard.empty() ? Shard{} : parse_shard(args.shard);
  const std::vector<BatchItem> all = expand_inputs(args.inputs);
  const std::vector<BatchItem> items = take_shard(all, shard);
  OutputPlan plan(args, all, options.format, std::max<size_t>(1, options.effects.size()));
  if (plan.to_stdout() && args.progress == "json") {
    throw Error(ErrorCode::kInvalidArgument, "--progress json writes to stdout: it cannot go with -o -");
  }

  BatchReport report(args, all.size(), items.size(), shard);
  if (items.empty()) return report.finish();  // more tasks than inputs: this one has nothing to do
  args.model.apply_cv_threads();
  Segmenter segmenter(args.model.descriptor(), args.model.session_config());

  // Three stages overlap across neighbouring files: reading and decoding file i + 1 and finishing
  // file i - 1 (edges, effects, encoding, writing) run on threads of their own while file i is
  // in the network. Reports are made here, on this thread, in input order.
  struct Stage {
    size_t index = 0;
    fs::path base;
    bool skip = false;
    DecodedImage decoded;
    cv::Mat matte, backdrop;
    RemoveResult result;
    std::vector<std::string> written;
    std::exception_ptr error;
    Stopwatch watch;
  };
  auto prepare = [&](size_t i) {
    Stage st;
    st.index = i;
    try {
      const BatchItem& item = items[i];
      st.base = plan.base_for(item);
      if (args.skip_existing && !plan.to_stdout() && outputs_exist(plan, st.base, options)) {
        st.skip = true;
        return st;
      }
      const std::vector<uint8_t> bytes = read_input(item.input);
      st.decoded = decode_for_cutout(bytes, options, st.result.timings);
      st.result.width = st.decoded.pixels.cols;
      st.result.height = st.decoded.pixels.rows;
    } catch (...) {
      st.error = std::current_exception();
    }
    return st;
  };
  auto finish = [&](Stage st) {
    try {
      const BatchItem& item = items[st.index];
      const cv::Mat cutout =
          finish_cutout(std::move(st.decoded), std::move(st.matte), options, st.result.timings, &st.backdrop);
      st.result.outputs = render_outputs(cutout, options, st.result.timings, {}, st.backdrop);
      st.result.timings.total_ms = st.watch.elapsed_ms();
      if (plan.to_stdout()) {
        write_stdout(st.result.outputs.at(0).image.bytes);
        return st;
      }
      for (const NamedOutput& out : st.result.outputs) {
        const fs::path path = plan.path_for(st.base, out.name);
        if (item.from_folder) fs::create_directories(path.parent_path());
        write_file_atomic(path, out.image.bytes);
        st.written.push_back(path.string());
      }
    } catch (...) {
      st.error = std::current_exception();
    }
    return st;
  };
  auto report_done = [&](const Stage& st) {
    const std::string& input = items[st.index].input;
    if (st.skip) return report.skipped_existing(input);
    if (st.error) {
      try {
        std::rethrow_exception(st.error);
      } catch (const std::exception& e) {
        report.failed(input, e);
      }
      return;
    }
    if (!plan.to_stdout()) report.written(input, st.written, st.result);
  };

  std::future<Stage> next = std::async(std::launch::async, prepare, 0);
  std::future<Stage> finishing;
  for (size_t i = 0; i < items.size(); ++i) {
    Stage current = next.get();
    if (i + 1 < items.size()) next = std::async(std::launch::async, prepare, i + 1);
    report.starting(i, items[i].input);
    if (!current.skip && !current.error) {
      try {
        current.matte = segmenter.predict_matte(current.decoded.pixels, current.result.timings);
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kModel) throw;  // the model is broken: no point going on
        current.error = std::current_exception();
      } catch (...) {
        current.error = std::current_exception();
      }
    }
    if (finishing.valid()) report_done(finishing.get());
    if (current.skip || current.error) {
      report_done(current);
    } else {
      finishing = std::async(std::launch::async, finish, std::move(current));
    }
  }
  if (finishing.valid()) report_done(finishing.get());
  return report.finish();
}

}  // namespace

void add_remove_command(CLI::App& app, int& exit_status) {
  auto args = std::make_shared<RemoveArgs>();
  CLI::App* cmd = app.add_subcommand("remove", "cut out the subject of photos (transparent background)");
  cmd->add_option("inputs", args->inputs,
                  "photos (JPEG, PNG, WebP, BMP, TIFF, GIF) or folders of them (walked); - reads stdin")
      ->required();
  cmd->add_option("-o,--output", args->output,
                  "output file, folder, or - for stdout (default: <name>.cutout.<ext> here)");
  cmd->add_option("--format", args->format, "png, webp or jpeg (default: from -o's extension, else png)");
  cmd->add_option("--background", args->background,
                  "transparent, white, black, #RRGGBB, #RRGGBBAA, or blur (the photo blurred behind the "
                  "colour cut-out) (default: transparent; white for jpeg)");
  cmd->add_option("--effects", args->effects,
                  "comma list of color, bw, popart, dither: one file each, <name>.<effect>.<ext>");
  cmd->add_option(
      "--param", args->params,
      "effect parameter NAME=VALUE (repeatable): bw_strength=0..2, popart_palette=warhol|electric|"
      "sunset|mint, popart_grid=1x1|2x2, popart_background=transparent|palette, "
      "dither_method=floyd|atkinson|bayer");
  cmd->add_flag("--mask", args->mask, "also write the alpha matte as <name>.mask.png");
  cmd->add_option("--refine", args->refine,
                  "edge refinement at the photo's resolution: guided (fast guided filter in the uncertain "
                  "band) or none")
      ->check(CLI::IsMember(refine_names()))
      ->capture_default_str();
  cmd->add_option("--decontaminate", args->decontaminate,
                  "true: the edges' colour is the subject's, without the old background (false: the photo's)")
      ->capture_default_str();
  cmd->add_option("--max-pixels", args->max_pixels,
                  "refuse images with more pixels (checked from the header)")
      ->capture_default_str();
  cmd->add_option("--crop", args->crop,
                  "none, or subject: the outputs cropped to the subject (as the API's crop=)")
      ->capture_default_str();
  cmd->add_option("--margin", args->margin,
                  "with --crop subject: a margin of this percent of the subject's size")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  cmd->add_option("--blur-radius", args->blur_radius,
                  "--background blur: the blur's radius in px (0: 2.5 % of the longest side)")
      ->check(CLI::Range(0, 1000));
  cmd->add_flag("--shadow", args->shadow, "a soft drop shadow under the colour cut-out");
  cmd->add_option("--background-image", args->background_image,
                  "a picture behind the colour cut-out, scaled to cover the photo");
  cmd->add_option("--max-side", args->max_side,
                  "shrink the outputs so that their longest side is at most this")
      ->check(CLI::Range(1, 65535));
  cmd->add_flag("-q,--quiet", args->quiet, "no progress bar or summary");
  cmd->add_option("--shard", args->shard,
                  "INDEX/COUNT: do only this task's share of the sorted inputs (i % COUNT == INDEX), for "
                  "batch jobs; auto: from CLOUD_RUN_TASK_INDEX/CLOUD_RUN_TASK_COUNT (else 0/1)");
  cmd->add_option("--progress", args->progress,
                  "auto (a bar on a terminal), json (a JSON line per input and a summary, on stdout), none")
      ->check(CLI::IsMember({"auto", "json", "none"}))
      ->capture_default_str();
  cmd->add_flag("--skip-existing", args->skip_existing,
                "skip inputs whose outputs already exist (a retried batch task resumes)");
  args->model.add_to(*cmd);
  set_command_run(*cmd, exit_status, "remove", [args] { return run_remove(*args); });
}

}  // namespace cutout::cli
