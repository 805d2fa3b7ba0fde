// The ONNX Runtime core this process runs on, chosen at run time.
//
// cutout does not link ONNX Runtime: it loads one of the two cores setup installs (dlopen) before
// the first use of the API, so one binary runs on either:
//   asus4      com.github.asus4.onnxruntime@0.4.9 (third_party/onnxruntime): CPU only
//   microsoft  onnxruntime-node@1.29.0 (third_party/onnxruntime-node): CPU, CUDA and TensorRT
//              providers compiled in; their libraries (for CUDA 13) come from asus4's GPU package
//              of the same version and lie beside it, where the core looks for them
// Both are ONNX Runtime 1.29.0, so the C API is the same. One core per process.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cutout {

struct OrtCore {
  std::string name;                    // "asus4", "microsoft", or the path given
  std::string path;                    // the file loaded
  std::string version;                 // its GetVersionString()
  std::vector<std::string> providers;  // e.g. CUDAExecutionProvider, CPUExecutionProvider
};

// The core a CPU session gets unless told otherwise (chosen by measurement, docs/PERFORMANCE.md).
std::string_view default_ort_core();
// The file of a core by name ("asus4", "microsoft"; anything else is taken as a path).
std::string ort_core_path(std::string_view name);

// Loads the core once per process: `name` as ort_core_path() takes it; empty: $CUTOUT_ORT_CORE,
// else default_ort_core(). Later calls return the loaded core. Throws Error(kModel) when the file
// cannot be loaded, is not ONNX Runtime 1.29, or another core was loaded already.
const OrtCore& load_ort_core(std::string_view name = {});
// The loaded core, or nullptr.
const OrtCore* loaded_ort_core();

// What running on CUDA with the core at `core_path` needs and this machine lacks, as one sentence
// naming each missing part (the core, its CUDA provider library, the NVIDIA driver, a GPU, the
// CUDA 13 runtime, cuBLAS, cuRAND, cuDNN 9); empty when nothing is missing. Loads nothing of
// ONNX Runtime, so `--device auto` can decide before a core is chosen.
std::string cuda_missing(const std::string& core_path);

}  // namespace cutout
