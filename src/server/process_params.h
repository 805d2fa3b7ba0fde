// The parameters of POST /api/v2/process (query string or form fields), validated.
#pragma once

#include <cstdint>
#include <string>

#include "core/pipeline.h"
#include "server/http_server.h"

namespace cutout::server {

struct ProcessParams {
  RemoveOptions options;        // effects (default: all four), format, background, max_side, crop, mask
  bool image_response = false;  // response=image (or Accept: image/*): one output's bytes
  bool stream = false;          // stream=true: server-sent events
  bool zip_response = false;    // response=zip: every output in one ZIP archive
};

// Throws ApiException(400 bad_request) naming the parameter and the allowed values. `render`: for
// POST /api/v2/render, which also takes a `matte` part and cannot stream, and refines that matte
// only when refine= is given (it is the final matte of a process).
ProcessParams parse_process_params(const HttpRequest& request, int max_output_side, uint64_t max_pixels,
                                   bool render = false);

// An integer parameter in [lo, hi]; else ApiException(400) naming it and the range.
int64_t parse_int_param(const std::string& name, const std::string& value, int64_t lo, int64_t hi);

// The photo's bytes: the multipart part `image`, or the raw body. Throws ApiException(400).
std::string_view image_bytes(const HttpRequest& request);

}  // namespace cutout::server
