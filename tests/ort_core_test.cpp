// The ONNX Runtime core, loaded at run time (src/inference/ort_core.h): one per process, version
// checked, providers listed; what CUDA needs, named when missing.
#include "inference/ort_core.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>

#include <gtest/gtest.h>

#include "core/error.h"
#include "inference/ort_session.h"

namespace cutout {
namespace {

bool has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

TEST(OrtCore, OneCorePerProcessTheDefaultUnlessTold) {
  const char* env = std::getenv("CUTOUT_ORT_CORE");
  const std::string expected = env && *env ? env : std::string(default_ort_core());
  const OrtCore& core = load_ort_core();
  EXPECT_EQ(core.name, expected);
  EXPECT_EQ(core.version, "1.29.0");
  EXPECT_TRUE(has(core.providers, "CPUExecutionProvider"));
  // The microsoft core is built with CUDA and TensorRT; the asus4 one is CPU only.
  EXPECT_EQ(has(core.providers, "CUDAExecutionProvider"), core.name == "microsoft") << core.name;
  EXPECT_EQ(loaded_ort_core(), &core);
  EXPECT_EQ(&load_ort_core(), &core);
  EXPECT_EQ(&load_ort_core(core.name), &core);
  const std::string other = core.name == "asus4" ? "microsoft" : "asus4";
  try {
    load_ort_core(other);
    FAIL() << "a second core loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("one core per process"), std::string::npos) << e.what();
  }
  EXPECT_EQ(available_providers(), core.providers);
}

TEST(OrtCore, PathsOfTheNamedCores) {
  EXPECT_TRUE(ort_core_path("microsoft").ends_with("third_party/onnxruntime-node/lib/libonnxruntime.so.1"));
  EXPECT_TRUE(ort_core_path("asus4").ends_with("libonnxruntime.so.1"));
  EXPECT_EQ(ort_core_path("/opt/ort/libonnxruntime.so.1"), "/opt/ort/libonnxruntime.so.1");
}

TEST(OrtCore, CudaNeedsNameWhatIsMissing) {
  const std::string no_core = cuda_missing("/nonexistent/libonnxruntime.so.1");
  EXPECT_NE(no_core.find("the CUDA-capable ONNX Runtime core (/nonexistent/libonnxruntime.so.1"),
            std::string::npos)
      << no_core;
  // The installed core has its CUDA provider beside it: what remains missing is the machine's.
  const std::string installed = cuda_missing(ort_core_path("microsoft"));
  EXPECT_EQ(installed.find("ONNX Runtime core"), std::string::npos) << installed;
  EXPECT_EQ(installed.find("libonnxruntime_providers_cuda.so"), std::string::npos) << installed;
  // Whatever this machine lacks is named with its soname; what it has is not.
  for (const char* soname :
       {"libcuda.so.1", "libcudart.so.13", "libcublas.so.13", "libcurand.so.10", "libcudnn.so.9"}) {
    const bool present = dlopen(soname, RTLD_LAZY | RTLD_LOCAL) != nullptr;
    EXPECT_EQ(installed.find(std::string("(") + soname + ")") == std::string::npos, present)
        << soname << ": " << installed;
  }
}

}  // namespace
}  // namespace cutout
