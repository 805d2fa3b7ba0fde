// GPU memory and utilisation for logs and metrics, read through NVML (libnvidia-ml.so.1, which the
// NVIDIA driver installs). The library is loaded at run time with dlopen, so the binary neither links
// nor needs it: without a driver, or on a CPU-only instance, the monitor is simply unavailable (the
// logs carry gpu_memory_used: null and the metrics have no GPU series), never an error.
//
// Thread-safety: every method may be called from any thread; readings are cached for
// `max_age_ms` so that a log line per request does not cost an NVML call per request.
// Lifetime: NVML is initialised in the constructor and shut down in the destructor.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace cutout::server {

struct GpuReading {
  uint64_t memory_used_bytes = 0;
  uint64_t memory_total_bytes = 0;
  double utilization_ratio = 0;  // 0..1, the share of the last sample period a kernel ran
};

class GpuMonitor {
 public:
  // library: the NVML library to load ("" = libnvidia-ml.so.1, found by the dynamic loader; the
  // CUTOUT_NVML_LIBRARY environment variable overrides it, for tests). Failures leave it unavailable
  // and say why in unavailable_reason().
  explicit GpuMonitor(std::string library = "", int max_age_ms = 1000);
  ~GpuMonitor();
  GpuMonitor(const GpuMonitor&) = delete;
  GpuMonitor& operator=(const GpuMonitor&) = delete;

  bool available() const { return device_count_ > 0; }
  int device_count() const { return device_count_; }
  const std::string& unavailable_reason() const { return reason_; }

  // The reading of device `index` (0-based, NVML's order), nullopt when unavailable or NVML fails.
  std::optional<GpuReading> read(int index);
  // Memory used on all devices together, bytes: the log field gpu_memory_used; nullopt without GPU.
  std::optional<uint64_t> memory_used_bytes();

 private:
  struct Nvml;
  std::unique_ptr<Nvml> nvml_;
  int device_count_ = 0;
  std::string reason_;
  const std::chrono::milliseconds max_age_;
  std::mutex mutex_;
  std::vector<std::optional<GpuReading>> cache_;
  std::chrono::steady_clock::time_point cached_at_{};
};

}  // namespace cutout::server
