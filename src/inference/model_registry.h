// The models cutout knows: what file each is, and how to feed it and read its output.
//
// A descriptor is plain data; the session (ort_session.h) and the matte functions
// (core/matte.h) act on it. Built-in models live in the models folder that scripts/setup.sh
// fills; any other ONNX file can be used with an explicit kind.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/matte.h"

namespace cutout {

enum class ModelKind {
  kIsnet,       // DIS/ISNet: input (x-128)/256, output a sigmoid probability
  kInspyrenet,  // InSPyReNet ONNX export: ImageNet mean/std, output min-max normalised
};

std::string_view model_kind_name(ModelKind kind);  // "isnet", "inspyrenet"
// Throws Error(kInvalidArgument) listing the kinds.
ModelKind parse_model_kind(std::string_view name);

struct ModelDescriptor {
  std::string name;            // registry name, or the file name for a custom model
  std::filesystem::path path;  // the .onnx file
  ModelKind kind = ModelKind::kIsnet;
  int input_size = 1024;  // square input side, used when the model's own dims are dynamic
  Normalization normalization{};
  MatteActivation activation = MatteActivation::kSigmoid;
  std::string sha256;  // pinned digest (built-in models); empty for custom files
  uint64_t bytes = 0;  // pinned size; 0 for custom files
  std::string description;
};

// $CUTOUT_MODELS_DIR, else the folder the build was configured with (setup.sh's models/).
std::filesystem::path default_models_dir();

// The model used when none is named: isnet-qdq, which meets every bar of issue 14 against isnet
// (docs/PERFORMANCE.md: 2x faster, a quarter of the memory, the same quality).
inline constexpr const char* kDefaultModel = "isnet-qdq";

// The built-in registry, with paths under models_dir: isnet, isnet-int8, isnet-qdq (default).
std::vector<ModelDescriptor> builtin_models(const std::filesystem::path& models_dir);

// Defaults of a kind for a file of one's own; base_size 0 keeps the kind's default (1024).
ModelDescriptor custom_model(const std::filesystem::path& path, ModelKind kind, int base_size = 0);

struct ModelChoice {
  std::string model = kDefaultModel;  // a registry name, or a path to an .onnx file
  std::optional<ModelKind> kind;      // needed for paths; must match for registry names
  int base_size = 0;                  // inspyrenet input side (e.g. 384 or 1024); 0 = default
  std::filesystem::path models_dir;   // empty = default_models_dir()
};

// Registry name or path -> descriptor. Throws Error(kInvalidArgument) for an unknown name
// (listing the known ones) or a bad base size; does not check that the file exists.
ModelDescriptor resolve_model(const ModelChoice& choice);

}  // namespace cutout
