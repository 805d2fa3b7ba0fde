// Wall-clock stopwatch and process memory figures, for stage timings and benchmarks.
#pragma once

#include <chrono>
#include <cstdint>

namespace cutout {

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  void restart() { start_ = std::chrono::steady_clock::now(); }
  double elapsed_ms() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  }
  // Milliseconds since the last lap (or construction); starts the next lap.
  double lap_ms() {
    auto now = std::chrono::steady_clock::now();
    double ms = std::chrono::duration<double, std::milli>(now - start_).count();
    start_ = now;
    return ms;
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

// Peak resident set size of this process so far (VmHWM), in bytes; 0 if unknown.
uint64_t peak_rss_bytes();
// Current resident set size (VmRSS), in bytes; 0 if unknown.
uint64_t current_rss_bytes();

}  // namespace cutout
