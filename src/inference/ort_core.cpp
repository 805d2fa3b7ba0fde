#include "inference/ort_core.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>

#include <onnxruntime_cxx_api.h>

#include "core/error.h"

#ifndef CUTOUT_DEFAULT_ORT_ROOT
#define CUTOUT_DEFAULT_ORT_ROOT "third_party"
#endif

namespace cutout {
namespace {

constexpr std::string_view kVersion = "1.29.0";

std::mutex core_mutex;
std::optional<OrtCore> core;  // guarded by core_mutex; never unloaded

// A library by its soname on the usual search path (LD_LIBRARY_PATH, ldconfig), kept loaded.
bool can_load(const char* soname) {
  return dlopen(soname, RTLD_LAZY | RTLD_LOCAL) != nullptr;
}

// The number of GPUs the driver sees, or a negative CUresult.
int cuda_gpu_count() {
  void* driver = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (!driver) return -1;
  using Init = int (*)(unsigned);
  using Count = int (*)(int*);
  auto init = reinterpret_cast<Init>(dlsym(driver, "cuInit"));
  auto count = reinterpret_cast<Count>(dlsym(driver, "cuDeviceGetCount"));
  if (!init || !count) return -1;
  if (int rc = init(0); rc != 0) return -rc;
  int n = 0;
  if (int rc = count(&n); rc != 0) return -rc;
  return n;
}

}  // namespace

std::string_view default_ort_core() {
  return "asus4";
}

std::string ort_core_path(std::string_view name) {
  const std::filesystem::path root = CUTOUT_DEFAULT_ORT_ROOT;
  if (name == "asus4") {
    const auto built = root / "onnxruntime" / "lib" / "libonnxruntime.so.1";
    // Installed elsewhere (the container: /usr/local/lib), it is found by its soname.
    return std::filesystem::exists(built) ? built.string() : "libonnxruntime.so.1";
  }
  if (name == "microsoft") return (root / "onnxruntime-node" / "lib" / "libonnxruntime.so.1").string();
  return std::string(name);
}

const OrtCore& load_ort_core(std::string_view name) {
  std::lock_guard lock(core_mutex);
  std::string wanted(name);
  if (wanted.empty()) {
    const char* env = std::getenv("CUTOUT_ORT_CORE");
    wanted = env && *env ? env : std::string(default_ort_core());
  }
  if (core) {
    if (!name.empty() && core->name != wanted) {
      throw Error(ErrorCode::kModel, "ONNX Runtime core '" + core->name + "' is loaded: '" + wanted +
                                         "' cannot be loaded too (one core per process)");
    }
    return *core;
  }
  const std::string path = ort_core_path(wanted);
  void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char* why = dlerror();
    throw Error(
        ErrorCode::kModel,
        "cannot load the ONNX Runtime core '" + wanted + "' (" + path +
            "): " + (why ? why : "unknown error") +
            (wanted == "asus4" || wanted == "microsoft" ? " (run scripts/setup.sh, or make setup)" : ""));
  }
  using GetApiBase = const OrtApiBase* (*)();
  auto get_base = reinterpret_cast<GetApiBase>(dlsym(library, "OrtGetApiBase"));
  const OrtApiBase* base = get_base ? get_base() : nullptr;
  if (!base) throw Error(ErrorCode::kModel, path + " is not ONNX Runtime: no OrtGetApiBase");
  const std::string version = base->GetVersionString();
  const OrtApi* api = version == kVersion ? base->GetApi(ORT_API_VERSION) : nullptr;
  if (!api) {
    throw Error(ErrorCode::kModel,
                path + " is ONNX Runtime " + version + ": cutout is built for " + std::string(kVersion));
  }
  Ort::InitApi(api);
  OrtCore loaded{wanted, path, version, {}};
  try {
    loaded.providers = Ort::GetAvailableProviders();
  } catch (const Ort::Exception& e) {
    throw Error(ErrorCode::kModel, path + ": cannot list its providers: " + e.what());
  }
  core = std::move(loaded);
  return *core;
}

const OrtCore* loaded_ort_core() {
  std::lock_guard lock(core_mutex);
  return core ? &*core : nullptr;
}

std::string cuda_missing(const std::string& core_path) {
  // The machine does not change while the process runs: the CLI's check at start and the
  // session's own then cost one cuInit, not two.
  static std::mutex mutex;
  static std::map<std::string, std::string> known;
  std::lock_guard lock(mutex);
  if (auto it = known.find(core_path); it != known.end()) return it->second;
  std::vector<std::string> missing;
  const std::filesystem::path core_file(core_path);
  if (!std::filesystem::exists(core_file)) {
    missing.push_back("the CUDA-capable ONNX Runtime core (" + core_path + ": run scripts/setup.sh)");
  } else if (!std::filesystem::exists(core_file.parent_path() / "libonnxruntime_providers_cuda.so")) {
    missing.push_back("libonnxruntime_providers_cuda.so beside the core (run scripts/setup.sh)");
  }
  const int gpus = cuda_gpu_count();
  if (gpus == -1) {
    missing.push_back("the NVIDIA driver (libcuda.so.1)");
  } else if (gpus == 0) {
    missing.push_back("a GPU (the driver sees none)");
  } else if (gpus < 0) {
    missing.push_back("a working GPU (cuInit failed with CUresult " + std::to_string(-gpus) + ")");
  }
  struct Library {
    const char* soname;
    const char* what;
  };
  for (const Library& l : {Library{"libcudart.so.13", "the CUDA 13 runtime (libcudart.so.13)"},
                           Library{"libcublas.so.13", "cuBLAS for CUDA 13 (libcublas.so.13)"},
                           Library{"libcublasLt.so.13", "cuBLASLt for CUDA 13 (libcublasLt.so.13)"},
                           Library{"libcurand.so.10", "cuRAND (libcurand.so.10)"},
                           Library{"libcudnn.so.9", "cuDNN 9 (libcudnn.so.9)"}}) {
    if (!can_load(l.soname)) missing.push_back(l.what);
  }
  std::string text;
  for (size_t i = 0; i < missing.size(); ++i) text += (i ? ", " : "") + missing[i];
  return known[core_path] = text;
}

}  // namespace cutout
