// The process's one ONNX Runtime environment, shared by every session (ort_session.cpp,
// calibration.cpp). Internal to src/inference/.
#pragma once

#include <onnxruntime_cxx_api.h>

namespace cutout {

// Created on first use, after loading the ONNX Runtime core (ort_core.h: the default unless one
// was loaded before); never destroyed before the sessions that use it.
Ort::Env& ort_env();

}  // namespace cutout
