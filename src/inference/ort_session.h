// One ONNX Runtime session for one segmentation model.
//
// Created once (loading is the expensive part: ~0.5 s) and reused for every image. Input and
// output names and shapes are read from the model, not assumed. The execution provider is
// chosen at run time: `cpu` always; `cuda` through the standard CUDA provider API on the
// CUDA-capable core (inference/ort_core.h), failing with a message that names what the machine
// lacks; `auto` is cuda where nothing is missing, else cpu.
//
// Thread-safety: run() (on the session's own input buffer) has one caller at a time; run(input)
// may be called from several threads at once (ONNX Runtime's Session::Run is thread-safe and
// each call brings its own buffers).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "inference/model_registry.h"

namespace cutout {

enum class Device { kCpu, kCuda, kAuto };
std::string_view device_name(Device device);  // "cpu", "cuda", "auto"; "unknown" for any other value
Device parse_device(std::string_view name);   // throws Error(kInvalidArgument)

// CUTOUT_THREADS, else OMP_NUM_THREADS, else the cores this process may use, capped by the CPU
// quota of its container (cgroup v2 cpu.max or v1 cpu.cfs_quota_us), rounded up.
int default_thread_count();
// Whole CPUs of a cgroup v2 cpu.max line ("200000 100000" -> 2, "150000 100000" -> 2), 0 for no
// limit ("max 100000") or an unreadable line. Also takes v1's "QUOTA PERIOD" (-1: no limit).
int cores_from_cpu_quota(std::string_view cpu_max);

enum class GraphOptimization { kBasic, kExtended, kAll };
// "basic", "extended", "all"; throws Error(kInvalidArgument).
GraphOptimization parse_graph_optimization(std::string_view name);

struct SessionConfig {
  int intra_op_threads = 0;  // 0: default_thread_count()
  Device device = Device::kCpu;
  // The ONNX Runtime core (inference/ort_core.h): "asus4", "microsoft" or a path; empty: for cpu
  // $CUTOUT_ORT_CORE, else default_ort_core(); for cuda the CUDA-capable "microsoft".
  std::string ort_core;
  int cuda_device_id = 0;
  // Memory behaviour of the CPU allocator; the defaults are the measured best trade-off
  // (docs/PERFORMANCE.md): arena on, memory pattern off.
  bool cpu_mem_arena = true;
  bool mem_pattern = false;
  // ONNX Runtime's graph optimisation level: `all` adds the NCHWc layout transforms (faster runs,
  // slower session creation). The default is the measured trade-off (docs/PERFORMANCE.md).
  GraphOptimization graph_optimization = GraphOptimization::kAll;
  // Busy-wait of idle intra-op threads: faster hand-offs, but burns CPU between runs.
  bool allow_spinning = true;
  // With spinning: how long an idle thread spins before it sleeps (0: ONNX Runtime's default).
  int spin_duration_us = 0;
  // Where ONNX Runtime writes the graph it optimised (empty: nowhere), e.g. to count what fused.
  std::string optimized_model_path;
  // Prefix of an ONNX Runtime profile (a JSON trace of every node's time, written by
  // end_profiling() or when the session ends); empty: no profiling.
  std::string profile_prefix;
};

// Where a session on `config` runs: its device (never kAuto) and core, and for an `auto` that fell
// back to cpu, why. Throws Error(kModel) for cuda when anything it needs is missing (naming it) or
// the core named is a CPU build.
struct DeviceChoice {
  Device device = Device::kCpu;
  std::string core;
  std::string why;  // empty unless auto fell back
};
DeviceChoice choose_device(const SessionConfig& config);

class OrtSession {
 public:
  // Throws Error(kModel) when the file is missing, not a model, has an unexpected signature
  // (one float [1,3,H,W] input; a float [1,1,H,W] output), or the provider is unavailable.
  OrtSession(const ModelDescriptor& model, const SessionConfig& config);
  ~OrtSession();
  OrtSession(const OrtSession&) = delete;
  OrtSession& operator=(const OrtSession&) = delete;

  int input_width() const;
  int input_height() const;
  // Planar [3][H][W] input that run() reads.
  std::span<float> input();
  // Runs the model on input(); returns the [H][W] matte output, valid until the next run().
  std::span<const float> run();
  // Runs the model on a caller's planar [3][H][W] input; returns the [H][W] output. Thread-safe.
  std::vector<float> run(std::span<const float> input);
  // The most inputs one run takes: 1 for a graph whose batch dimension is fixed, else unbounded.
  int max_batch() const;
  // Runs the model once on `n` planar [3][H][W] inputs laid end to end (n <= max_batch());
  // returns the n [H][W] outputs, end to end. Thread-safe.
  std::vector<float> run_batch(std::span<const float> inputs, int n);

  double load_ms() const;
  int threads() const;
  std::string_view provider() const;  // "cpu" or "cuda"
  const std::string& input_name() const;
  const std::string& output_name() const;
  // Ends profiling (SessionConfig::profile_prefix) and returns the trace's path; "" when off.
  std::string end_profiling();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Execution providers of the loaded ONNX Runtime core (loading the default one if none is),
// e.g. {"CPUExecutionProvider"}.
std::vector<std::string> available_providers();

}  // namespace cutout
