#include "inference/ort_session.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <thread>

#include <onnxruntime_cxx_api.h>

#include "core/error.h"
#include "core/timer.h"
#include "inference/ort_core.h"
#include "inference/ort_env.h"

namespace cutout {

// One Env per process, as ONNX Runtime recommends.
Ort::Env& ort_env() {
  static Ort::Env env = (load_ort_core(), Ort::Env(ORT_LOGGING_LEVEL_WARNING, "cutout"));
  return env;
}

namespace {

int parse_positive_env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return 0;
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  return (end && *end == '\0' && n > 0 && n <= 1024) ? static_cast<int>(n) : 0;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

void append_cuda(Ort::SessionOptions& options, int device_id) {
  const OrtCore& core = load_ort_core();
  if (std::find(core.providers.begin(), core.providers.end(), "CUDAExecutionProvider") ==
      core.providers.end()) {
    throw Error(ErrorCode::kModel, "--device cuda: the ONNX Runtime core '" + core.name + "' (" + core.path +
                                       ") has no CUDA execution provider: it is a CPU build "
                                       "(--ort-core microsoft is the CUDA-capable one)");
  }
  const OrtApi& api = Ort::GetApi();
  OrtCUDAProviderOptionsV2* cuda = nullptr;
  Ort::ThrowOnError(api.CreateCUDAProviderOptions(&cuda));
  std::unique_ptr<OrtCUDAProviderOptionsV2, void (*)(OrtCUDAProviderOptionsV2*)> guard(
      cuda, api.ReleaseCUDAProviderOptions);
  const std::string id = std::to_string(device_id);
  // Heuristic cuDNN algorithm search keeps the first run short (cold start matters more to us
  // than the last few percent); the arena grows by what is asked, not by powers of two.
  const char* keys[] = {"device_id", "cudnn_conv_algo_search", "arena_extend_strategy"};
  const char* values[] = {id.c_str(), "HEURISTIC", "kSameAsRequested"};
  Ort::ThrowOnError(api.UpdateCUDAProviderOptions(cuda, keys, values, 3));
  options.AppendExecutionProvider_CUDA_V2(*cuda);
}

}  // namespace

std::string_view device_name(Device device) {
  switch (device) {
    case Device::kCpu:
      return "cpu";
    case Device::kCuda:
      return "cuda";
    case Device::kAuto:
      return "auto";
  }
  return "unknown";  // not an enumerator: a bug, never a guess
}

Device parse_device(std::string_view name) {
  if (name == "cpu") return Device::kCpu;
  if (name == "cuda" || name == "gpu") return Device::kCuda;
  if (name == "auto") return Device::kAuto;
  throw Error(ErrorCode::kInvalidArgument,
              "unknown device '" + std::string(name) + "' (allowed: cpu, cuda, auto)");
}

GraphOptimization parse_graph_optimization(std::string_view name) {
  if (name == "basic") return GraphOptimization::kBasic;
  if (name == "extended") return GraphOptimization::kExtended;
  if (name == "all") return GraphOptimization::kAll;
  throw Error(ErrorCode::kInvalidArgument,
              "unknown graph optimisation '" + std::string(name) + "' (allowed: basic, extended, all)");
}

int cores_from_cpu_quota(std::string_view cpu_max) {
  // cgroup v2 cpu.max: "QUOTA PERIOD" in microseconds, or "max PERIOD" for no limit.
  while (!cpu_max.empty() && std::isspace(static_cast<unsigned char>(cpu_max.back())))
    cpu_max.remove_suffix(1);
  const size_t space = cpu_max.find(' ');
  if (space == std::string_view::npos) return 0;
  long long quota = 0, period = 0;
  const std::string_view q = cpu_max.substr(0, space), p = cpu_max.substr(space + 1);
  auto whole = [](std::string_view text, long long& value) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return ec == std::errc() && end == text.data() + text.size();
  };
  if (!whole(q, quota) || !whole(p, period) || quota <= 0 || period <= 0) return 0;
  return static_cast<int>((quota + period - 1) / period);  // 1.5 CPUs: 2 threads
}

int container_cpu_limit() {
  auto read = [](const char* path) {
    std::ifstream in(path);
    std::string text;
    std::getline(in, text);
    return text;
  };
  if (int n = cores_from_cpu_quota(read("/sys/fs/cgroup/cpu.max"))) return n;
  // cgroup v1: the quota and the period in two files, -1 for no limit.
  const std::string v1 =
      read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") + " " + read("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
  return cores_from_cpu_quota(v1);
}

int default_thread_count() {
  if (int n = parse_positive_env("CUTOUT_THREADS")) return n;
  if (int n = parse_positive_env("OMP_NUM_THREADS")) return n;
  // The cores this process may run on (affinity), capped by a container's CPU quota: a pod limited
  // to 2 CPUs on a 64-core node gets 2 threads, not 64 that the quota would throttle.
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int limit = container_cpu_limit();
  return limit > 0 ? std::min(cores, limit) : cores;
}

std::vector<std::string> available_providers() {
  return load_ort_core().providers;
}

DeviceChoice choose_device(const SessionConfig& config) {
  DeviceChoice choice;
  if (config.device == Device::kCpu) {
    choice.core = config.ort_core;  // empty: $CUTOUT_ORT_CORE or the default, when it loads
    return choice;
  }
  const std::string core = config.ort_core.empty() ? "microsoft" : config.ort_core;
  std::string missing = core == "asus4" ? "a CUDA-capable core ('asus4' is a CPU build: --ort-core microsoft)"
                                        : cuda_missing(ort_core_path(core));
  if (missing.empty()) {
    choice.device = Device::kCuda;
    choice.core = core;
    return choice;
  }
  if (config.device == Device::kCuda) {
    throw Error(ErrorCode::kModel, "--device cuda: this machine lacks " + missing +
                                       " (--device auto falls back to cpu; docs/OPERATIONS.md \"GPU\")");
  }
  choice.core = config.ort_core;
  choice.why = "no CUDA: this machine lacks " + missing;
  return choice;
}

struct OrtSession::Impl {
  // Declared first, so the core is loaded before any member below calls the API.
  struct Core {
    explicit Core(const std::string& name) { load_ort_core(name); }
  } core;
  DeviceChoice where;
  explicit Impl(DeviceChoice w) : core(w.core), where(std::move(w)) {}
  Ort::Session session{nullptr};
  Ort::MemoryInfo cpu_memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  std::string input_name, output_name;
  int width = 0, height = 0, threads = 1;
  bool dynamic_batch = false;  // the input's first dimension is symbolic
  Device device = Device::kCpu;
  double load_ms = 0;
  bool profiling = false;
  std::vector<float> input;
  Ort::Value input_tensor{nullptr};
  std::vector<Ort::Value> outputs;
};

OrtSession::OrtSession(const ModelDescriptor& model, const SessionConfig& config)
    : impl_(std::make_unique<Impl>(choose_device(config))) {
  Impl& m = *impl_;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(model.path, ec)) {
    throw Error(ErrorCode::kModel, "model file not found: " + model.path.string() +
                                       " (run scripts/setup.sh to fetch the built-in models)");
  }
  m.threads = config.intra_op_threads > 0 ? config.intra_op_threads : default_thread_count();
  m.device = m.where.device;
  Stopwatch watch;
  try {
    Ort::Env& env = ort_env();  // before any provider is appended: they log through it
    Ort::SessionOptions options;
    options.SetIntraOpNumThreads(m.threads);
    options.SetInterOpNumThreads(1);
    options.SetExecutionMode(ExecutionMode::ORT_SEQUENTIAL);
    options.SetGraphOptimizationLevel(config.graph_optimization == GraphOptimization::kAll ? ORT_ENABLE_ALL
                                      : config.graph_optimization == GraphOptimization::kExtended
                                          ? ORT_ENABLE_EXTENDED
                                          : ORT_ENABLE_BASIC);
    if (config.cpu_mem_arena)
      options.EnableCpuMemArena();
    else
      options.DisableCpuMemArena();
    if (!config.mem_pattern) options.DisableMemPattern();
    options.AddConfigEntry("session.intra_op.allow_spinning", config.allow_spinning ? "1" : "0");
    if (config.allow_spinning && config.spin_duration_us > 0) {
      options.AddConfigEntry("session.intra_op.spin_duration_us",
                             std::to_string(config.spin_duration_us).c_str());
    }
    if (!config.optimized_model_path.empty())
      options.SetOptimizedModelFilePath(config.optimized_model_path.c_str());
    if (!config.profile_prefix.empty()) options.EnableProfiling(config.profile_prefix.c_str());
    m.profiling = !config.profile_prefix.empty();
    if (m.device == Device::kCuda) append_cuda(options, config.cuda_device_id);
    m.session = Ort::Session(env, model.path.c_str(), options);
  } catch (const Ort::Exception& e) {
    throw Error(ErrorCode::kModel, "cannot load model " + model.path.string() + ": " + e.what());
  }

  // The signature: one float [N,3,H,W] input, and a float matte output named "output" if the
  // model has one (ISNet also exports its side outputs), else the first.
  if (m.session.GetInputCount() != 1) {
    throw Error(ErrorCode::kModel,
                model.name + ": expected one input, found " + std::to_string(m.session.GetInputCount()));
  }
  Ort::AllocatorWithDefaultOptions alloc;
  m.input_name = m.session.GetInputNameAllocated(0, alloc).get();
  // The shape info views into its TypeInfo, which must outlive it.
  Ort::TypeInfo in_type = m.session.GetInputTypeInfo(0);
  auto in_info = in_type.GetTensorTypeAndShapeInfo();
  auto in_shape = in_info.GetShape();
  if (in_info.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || in_shape.size() != 4 ||
      (in_shape[1] != 3 && in_shape[1] > 0)) {
    throw Error(ErrorCode::kModel, model.name + ": input '" + m.input_name +
                                       "' must be float [1,3,H,W], is " + shape_text(in_shape));
  }
  m.dynamic_batch = in_shape[0] <= 0;
  m.height = in_shape[2] > 0 ? static_cast<int>(in_shape[2]) : model.input_size;
  m.width = in_shape[3] > 0 ? static_cast<int>(in_shape[3]) : model.input_size;

  size_t out_index = 0;
  for (size_t i = 0; i < m.session.GetOutputCount(); ++i) {
    if (std::string(m.session.GetOutputNameAllocated(i, alloc).get()) == "output") out_index = i;
  }
  m.output_name = m.session.GetOutputNameAllocated(out_index, alloc).get();
  Ort::TypeInfo out_type = m.session.GetOutputTypeInfo(out_index);
  auto out_info = out_type.GetTensorTypeAndShapeInfo();
  auto out_shape = out_info.GetShape();
  if (out_info.GetElementType() != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT || out_shape.size() != 4 ||
      (out_shape[1] != 1 && out_shape[1] > 0)) {
    throw Error(ErrorCode::kModel, model.name + ": output '" + m.output_name +
                                       "' must be float [1,1,H,W], is " + shape_text(out_shape));
  }

  m.input.assign(3 * static_cast<size_t>(m.width) * static_cast<size_t>(m.height), 0.0f);
  const int64_t shape[4] = {1, 3, m.height, m.width};
  m.input_tensor = Ort::Value::CreateTensor<float>(m.cpu_memory, m.input.data(), m.input.size(), shape, 4);
  m.load_ms = watch.elapsed_ms();
}

OrtSession::~OrtSession() = default;

int OrtSession::input_width() const {
  return impl_->width;
}
int OrtSession::input_height() const {
  return impl_->height;
}
std::span<float> OrtSession::input() {
  return impl_->input;
}
double OrtSession::load_ms() const {
  return impl_->load_ms;
}
int OrtSession::threads() const {
  return impl_->threads;
}
std::string_view OrtSession::provider() const {
  return device_name(impl_->device);
}
const std::string& OrtSession::input_name() const {
  return impl_->input_name;
}
const std::string& OrtSession::output_name() const {
  return impl_->output_name;
}

std::string OrtSession::end_profiling() {
  if (!impl_->profiling) return "";
  impl_->profiling = false;
  Ort::AllocatorWithDefaultOptions alloc;
  return impl_->session.EndProfilingAllocated(alloc).get();
}

namespace {

// Session::Run on one input tensor of `batch` images, returning the matte output after checking
// its shape.
std::vector<Ort::Value> run_session(Ort::Session& session, const std::string& input_name,
                                    const std::string& output_name, const Ort::Value& input, int width,
                                    int height, int batch = 1) {
  const char* in_names[] = {input_name.c_str()};
  const char* out_names[] = {output_name.c_str()};
  std::vector<Ort::Value> outputs;
  try {
    outputs = session.Run(Ort::RunOptions{nullptr}, in_names, &input, 1, out_names, 1);
  } catch (const Ort::Exception& e) {
    throw Error(ErrorCode::kModel, std::string("inference failed: ") + e.what());
  }
  auto info = outputs.at(0).GetTensorTypeAndShapeInfo();
  auto shape = info.GetShape();
  const size_t expected =
      static_cast<size_t>(batch) * static_cast<size_t>(width) * static_cast<size_t>(height);
  if (shape.size() != 4 || shape[0] != batch || shape[1] != 1 || shape[2] != height || shape[3] != width ||
      info.GetElementCount() != expected) {
    throw Error(ErrorCode::kModel, "model output has shape " + shape_text(shape) + ", expected [" +
                                       std::to_string(batch) + ",1," + std::to_string(height) + "," +
                                       std::to_string(width) + "]");
  }
  return outputs;
}

}  // namespace

std::span<const float> OrtSession::run() {
  Impl& m = *impl_;
  m.outputs.clear();  // release the previous output to the arena before the next run
  m.outputs = run_session(m.session, m.input_name, m.output_name, m.input_tensor, m.width, m.height);
  return {m.outputs[0].GetTensorData<float>(), static_cast<size_t>(m.width) * static_cast<size_t>(m.height)};
}

std::vector<float> OrtSession::run(std::span<const float> input) {
  return run_batch(input, 1);
}

int OrtSession::max_batch() const {
  return impl_->dynamic_batch ? std::numeric_limits<int>::max() : 1;
}

std::vector<float> OrtSession::run_batch(std::span<const float> inputs, int n) {
  Impl& m = *impl_;
  if (n < 1 || n > max_batch() || inputs.size() != m.input.size() * static_cast<size_t>(n))
    throw Error(ErrorCode::kInternal, "run_batch: wrong batch or input size");
  const int64_t shape[4] = {n, 3, m.height, m.width};
  // ONNX Runtime does not write to inputs; the API only lacks a const overload.
  Ort::Value tensor = Ort::Value::CreateTensor<float>(m.cpu_memory, const_cast<float*>(inputs.data()),
                                                      inputs.size(), shape, 4);
  auto outputs = run_session(m.session, m.input_name, m.output_name, tensor, m.width, m.height, n);
  const float* data = outputs[0].GetTensorData<float>();
  return {data, data + static_cast<size_t>(n) * static_cast<size_t>(m.width) * static_cast<size_t>(m.height)};
}

}  // namespace cutout
