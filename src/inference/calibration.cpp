#include "inference/calibration.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "inference/ort_env.h"
#include "inference/ort_session.h"

namespace cutout {

void add_to_histogram(std::span<const float> values, float lo, float hi, std::span<uint64_t> histogram) {
  const size_t bins = histogram.size();
  if (bins == 0) return;
  const double width = hi > lo ? (static_cast<double>(hi) - lo) / static_cast<double>(bins) : 1.0;
  for (float v : values) {
    if (std::isnan(v)) continue;
    double k = (static_cast<double>(v) - lo) / width;
    size_t bin = k <= 0 ? 0 : std::min(bins - 1, static_cast<size_t>(k));
    ++histogram[bin];
  }
}

std::vector<ActivationStats> record_activations(const std::filesystem::path& model,
                                                std::span<const std::vector<float>> inputs, int width,
                                                int height, const CalibrationConfig& config) {
  if (inputs.empty()) throw Error(ErrorCode::kInvalidArgument, "calibration needs at least one input");
  const size_t input_size = 3 * static_cast<size_t>(width) * static_cast<size_t>(height);
  for (const auto& in : inputs) {
    if (in.size() != input_size)
      throw Error(ErrorCode::kInvalidArgument, "calibration input of the wrong size");
  }
  if (config.bins < 16) throw Error(ErrorCode::kInvalidArgument, "calibration needs at least 16 bins");

  Ort::Session session{nullptr};
  std::vector<std::string> names;
  std::string input_name;
  try {
    Ort::Env& env = ort_env();  // loads the core before the first API call
    Ort::SessionOptions options;
    options.SetIntraOpNumThreads(config.threads > 0 ? config.threads : default_thread_count());
    options.SetInterOpNumThreads(1);
    options.SetGraphOptimizationLevel(ORT_ENABLE_ALL);
    options.DisableMemPattern();
    session = Ort::Session(env, model.c_str(), options);
    Ort::AllocatorWithDefaultOptions alloc;
    input_name = session.GetInputNameAllocated(0, alloc).get();
    for (size_t i = 0; i < session.GetOutputCount(); ++i) {
      Ort::TypeInfo type = session.GetOutputTypeInfo(i);
      if (type.GetTensorTypeAndShapeInfo().GetElementType() == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT)
        names.push_back(session.GetOutputNameAllocated(i, alloc).get());
    }
  } catch (const Ort::Exception& e) {
    throw Error(ErrorCode::kModel, "cannot load calibration model " + model.string() + ": " + e.what());
  }
  std::vector<const char*> out_names;
  for (const auto& n : names) out_names.push_back(n.c_str());
  const char* in_names[] = {input_name.c_str()};
  Ort::MemoryInfo memory = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  const int64_t shape[4] = {1, 3, height, width};

  std::vector<ActivationStats> stats(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    stats[i].name = names[i];
    stats[i].min = std::numeric_limits<float>::infinity();
    stats[i].max = -std::numeric_limits<float>::infinity();
    stats[i].histogram.assign(static_cast<size_t>(config.bins), 0);
  }
  for (int pass = 1; pass <= 2; ++pass) {
    for (size_t k = 0; k < inputs.size(); ++k) {
      Ort::Value tensor = Ort::Value::CreateTensor<float>(memory, const_cast<float*>(inputs[k].data()),
                                                          inputs[k].size(), shape, 4);
      std::vector<Ort::Value> outputs;
      try {
        outputs =
            session.Run(Ort::RunOptions{nullptr}, in_names, &tensor, 1, out_names.data(), out_names.size());
      } catch (const Ort::Exception& e) {
        throw Error(ErrorCode::kModel, std::string("calibration run failed: ") + e.what());
      }
      for (size_t i = 0; i < outputs.size(); ++i) {
        const float* data = outputs[i].GetTensorData<float>();
        const std::span<const float> values(data, outputs[i].GetTensorTypeAndShapeInfo().GetElementCount());
        ActivationStats& s = stats[i];
        if (pass == 1) {
          for (float v : values) {
            if (std::isnan(v)) continue;
            s.min = std::min(s.min, v);
            s.max = std::max(s.max, v);
          }
        } else {
          add_to_histogram(values, s.min, s.max, s.histogram);
        }
      }
      if (config.progress) config.progress(pass, k);
    }
  }
  return stats;
}

}  // namespace cutout
