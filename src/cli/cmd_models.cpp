// cutout models: the registry, each file and whether its sha256 checks out.
#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "inference/model_registry.h"
#include "inference/sha256.h"

namespace cutout::cli {
namespace {

struct ModelsArgs {
  bool json = false;
  std::string models_dir;
};

// "ok", "missing", "size mismatch (...)", "sha256 mismatch (...)".
std::string check_model(const ModelDescriptor& d) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(d.path, ec)) return "missing";
  const auto size = std::filesystem::file_size(d.path, ec);
  if (size != d.bytes)
    return "size mismatch (" + std::to_string(size) + " bytes, expected " + std::to_string(d.bytes) + ")";
  const std::string digest = sha256_file_hex(d.path);
  if (digest != d.sha256) return "sha256 mismatch (" + digest + ")";
  return "ok";
}

int run_models(const ModelsArgs& args) {
  const auto dir = args.models_dir.empty() ? default_models_dir() : std::filesystem::path(args.models_dir);
  nlohmann::json list = nlohmann::json::array();
  bool all_ok = true;
  if (!args.json) std::printf("%-12s %-10s %-6s %-8s %s\n", "name", "kind", "input", "status", "file");
  for (const auto& d : builtin_models(dir)) {
    const std::string status = check_model(d);
    all_ok = all_ok && status == "ok";
    if (args.json) {
      list.push_back({{"name", d.name},
                      {"kind", model_kind_name(d.kind)},
                      {"input_size", d.input_size},
                      {"file", d.path.string()},
                      {"bytes", d.bytes},
                      {"sha256", d.sha256},
                      {"status", status},
                      {"default", d.name == kDefaultModel},
                      {"description", d.description}});
    } else {
      std::printf("%-12s %-10s %-6d %-8s %s\n", d.name.c_str(), std::string(model_kind_name(d.kind)).c_str(),
                  d.input_size, status.size() > 8 ? "BAD" : status.c_str(), d.path.c_str());
      if (status.size() > 8) std::printf("  %s\n", status.c_str());
    }
  }
  if (args.json) {
    std::printf("%s\n", nlohmann::json{{"models_dir", dir.string()}, {"models", list}}.dump(2).c_str());
  } else {
    std::printf("\nAlso: --model PATH --model-kind isnet|inspyrenet [--base-size N] for other ONNX files.\n");
  }
  return all_ok ? kExitOk : kExitFailed;
}

}  // namespace

void add_models_command(CLI::App& app, int& exit_status) {
  auto args = std::make_shared<ModelsArgs>();
  CLI::App* cmd = app.add_subcommand("models", "list the built-in models and verify their files (sha256)");
  cmd->add_flag("--json", args->json, "print JSON");
  cmd->add_option("--models-dir", args->models_dir,
                  "folder of the model files (default: $CUTOUT_MODELS_DIR or the build's)");
  set_command_run(*cmd, exit_status, "models", [args] { return run_models(*args); });
}

}  // namespace cutout::cli
