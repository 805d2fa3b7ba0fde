#include "inference/model_registry.h"

#include <cstdlib>

#include "core/error.h"

namespace cutout {
namespace {

constexpr Normalization kIsnetNormalization{{128.0f, 128.0f, 128.0f}, {256.0f, 256.0f, 256.0f}};
constexpr Normalization kImagenetNormalization{{0.485f * 255, 0.456f * 255, 0.406f * 255},
                                               {0.229f * 255, 0.224f * 255, 0.225f * 255}};

bool looks_like_path(std::string_view s) {
  return s.find('/') != std::string_view::npos || s.ends_with(".onnx");
}

}  // namespace

std::string_view model_kind_name(ModelKind kind) {
  return kind == ModelKind::kIsnet ? "isnet" : "inspyrenet";
}

ModelKind parse_model_kind(std::string_view name) {
  if (name == "isnet") return ModelKind::kIsnet;
  if (name == "inspyrenet") return ModelKind::kInspyrenet;
  throw Error(ErrorCode::kInvalidArgument,
              "unknown model kind '" + std::string(name) + "' (allowed: isnet, inspyrenet)");
}

std::filesystem::path default_models_dir() {
  if (const char* env = std::getenv("CUTOUT_MODELS_DIR"); env && *env) return env;
  return CUTOUT_DEFAULT_MODELS_DIR;
}

std::vector<ModelDescriptor> builtin_models(const std::filesystem::path& models_dir) {
  ModelDescriptor isnet;
  isnet.name = "isnet";
  isnet.path = models_dir / "isnet.onnx";
  isnet.kind = ModelKind::kIsnet;
  isnet.normalization = kIsnetNormalization;
  isnet.activation = MatteActivation::kSigmoid;
  isnet.sha256 = "b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb";
  isnet.bytes = 88'188'479;
  isnet.description = "ISNet (DIS, general use), fp16 weights, fp32 I/O; default";

  ModelDescriptor int8 = isnet;
  int8.name = "isnet-int8";
  int8.path = models_dir / "isnet-int8.onnx";
  int8.sha256 = "7001d60734fdc112dd9c062635fb59cd401fb82a9d4213134bce4dbd655c803a";
  int8.bytes = 44'342'436;
  int8.description = "ISNet, dynamic int8 quantisation (ConvInteger)";
  return {isnet, int8};
}

ModelDescriptor custom_model(const std::filesystem::path& path, ModelKind kind, int base_size) {
  if (base_size != 0 && (base_size < 32 || base_size > 4096 || base_size % 32 != 0)) {
    throw Error(ErrorCode::kInvalidArgument,
                "base size must be a multiple of 32 between 32 and 4096, e.g. 384 or 1024");
  }
  ModelDescriptor d;
  d.name = path.filename().string();
  d.path = path;
  d.kind = kind;
  d.input_size = base_size ? base_size : 1024;
  if (kind == ModelKind::kIsnet) {
    d.normalization = kIsnetNormalization;
    d.activation = MatteActivation::kSigmoid;
    d.description = "ISNet-compatible model from a file";
  } else {
    d.normalization = kImagenetNormalization;
    d.activation = MatteActivation::kMinMax;
    d.description = "InSPyReNet-compatible model from a file";
  }
  return d;
}

ModelDescriptor resolve_model(const ModelChoice& choice) {
  const auto dir = choice.models_dir.empty() ? default_models_dir() : choice.models_dir;
  if (looks_like_path(choice.model)) {
    return custom_model(choice.model, choice.kind.value_or(ModelKind::kIsnet), choice.base_size);
  }
  std::string known;
  for (auto& d : builtin_models(dir)) {
    if (d.name == choice.model) {
      if (choice.kind && *choice.kind != d.kind) {
        throw Error(ErrorCode::kInvalidArgument,
                    "model '" + d.name + "' is of kind " + std::string(model_kind_name(d.kind)));
      }
      if (choice.base_size && choice.base_size != d.input_size) {
        throw Error(ErrorCode::kInvalidArgument,
                    "model '" + d.name + "' has a fixed input size of " + std::to_string(d.input_size));
      }
      return d;
    }
    known += (known.empty() ? "" : ", ") + d.name;
  }
  throw Error(ErrorCode::kInvalidArgument, "unknown model '" + choice.model + "' (known: " + known +
                                               "; or a path to an .onnx file with --model-kind)");
}

}  // namespace cutout
