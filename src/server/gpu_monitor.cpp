#include "server/gpu_monitor.h"

#include <dlfcn.h>

#include <cstdlib>

namespace cutout::server {

// The few NVML entry points used, declared as nvml.h declares them (the header is not needed: these
// signatures and structs are NVML's stable ABI, unchanged since the _v2 functions of driver 325).
struct GpuMonitor::Nvml {
  using Device = void*;
  struct Memory {
    unsigned long long total, free, used;
  };
  struct Utilization {
    unsigned int gpu, memory;  // percent
  };
  void* handle = nullptr;
  int (*init)() = nullptr;
  int (*shutdown)() = nullptr;
  int (*device_count)(unsigned int*) = nullptr;
  int (*device_by_index)(unsigned int, Device*) = nullptr;
  int (*memory_info)(Device, Memory*) = nullptr;
  int (*utilization)(Device, Utilization*) = nullptr;
  std::vector<Device> devices;

  ~Nvml() {
    if (shutdown) shutdown();
    if (handle) dlclose(handle);
  }
};

namespace {

template <typename Fn>
bool bind(void* handle, const char* name, Fn& fn) {
  fn = reinterpret_cast<Fn>(dlsym(handle, name));
  return fn != nullptr;
}

}  // namespace

GpuMonitor::GpuMonitor(std::string library, int max_age_ms) : max_age_(max_age_ms) {
  if (library.empty()) {
    const char* env = std::getenv("CUTOUT_NVML_LIBRARY");
    library = env && *env ? env : "libnvidia-ml.so.1";
  }
  auto nvml = std::make_unique<Nvml>();
  nvml->handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!nvml->handle) {
    const char* err = dlerror();
    reason_ = "cannot load " + library + (err ? std::string(": ") + err : "");
    return;
  }
  if (!bind(nvml->handle, "nvmlInit_v2", nvml->init) || !bind(nvml->handle, "nvmlShutdown", nvml->shutdown) ||
      !bind(nvml->handle, "nvmlDeviceGetCount_v2", nvml->device_count) ||
      !bind(nvml->handle, "nvmlDeviceGetHandleByIndex_v2", nvml->device_by_index) ||
      !bind(nvml->handle, "nvmlDeviceGetMemoryInfo", nvml->memory_info) ||
      !bind(nvml->handle, "nvmlDeviceGetUtilizationRates", nvml->utilization)) {
    nvml->shutdown = nullptr;
    reason_ = library + " lacks an NVML function";
    return;
  }
  if (int rc = nvml->init(); rc != 0) {
    nvml->shutdown = nullptr;  // nothing to shut down
    reason_ = "nvmlInit failed with code " + std::to_string(rc) + " (no driver or no GPU?)";
    return;
  }
  unsigned int count = 0;
  if (nvml->device_count(&count) != 0 || count == 0) {
    reason_ = "NVML sees no GPU";
    return;
  }
  for (unsigned int i = 0; i < count; ++i) {
    Nvml::Device device = nullptr;
    if (nvml->device_by_index(i, &device) != 0) break;
    nvml->devices.push_back(device);
  }
  if (nvml->devices.empty()) {
    reason_ = "NVML gives no handle for GPU 0";
    return;
  }
  device_count_ = static_cast<int>(nvml->devices.size());
  cache_.resize(nvml->devices.size());
  nvml_ = std::move(nvml);
}

GpuMonitor::~GpuMonitor() = default;

std::optional<GpuReading> GpuMonitor::read(int index) {
  if (!available() || index < 0 || index >= device_count_) return std::nullopt;
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (cached_at_ == std::chrono::steady_clock::time_point{} || now - cached_at_ >= max_age_) {
    for (size_t i = 0; i < nvml_->devices.size(); ++i) {
      Nvml::Memory memory{};
      Nvml::Utilization utilization{};
      if (nvml_->memory_info(nvml_->devices[i], &memory) != 0) {
        cache_[i].reset();
        continue;
      }
      GpuReading r;
      r.memory_used_bytes = memory.used;
      r.memory_total_bytes = memory.total;
      // Utilisation is not supported on every device (e.g. some MIG slices): 0 rather than no reading.
      if (nvml_->utilization(nvml_->devices[i], &utilization) == 0)
        r.utilization_ratio = utilization.gpu / 100.0;
      cache_[i] = r;
    }
    cached_at_ = now;
  }
  return cache_[static_cast<size_t>(index)];
}

std::optional<uint64_t> GpuMonitor::memory_used_bytes() {
  if (!available()) return std::nullopt;
  uint64_t total = 0;
  bool any = false;
  for (int i = 0; i < device_count_; ++i) {
    if (auto r = read(i)) {
      total += r->memory_used_bytes;
      any = true;
    }
  }
  return any ? std::optional<uint64_t>(total) : std::nullopt;
}

}  // namespace cutout::server
