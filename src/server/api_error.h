// Errors as the HTTP API reports them: one place maps the core's ErrorCode to a status and a
// stable code, and renders the JSON error body of SPEC §3.
#pragma once

#include <exception>
#include <string>

#include "core/error.h"

namespace cutout::server {

struct ApiError {
  int status = 500;
  std::string code;  // bad_request, unauthorized, payload_too_large, image_too_large, ...
  std::string message;
  int retry_after_s = 0;  // > 0: sent as Retry-After (429, 503)
};

// Thrown by handlers and their helpers; the router turns it into the response.
class ApiException : public std::exception {
 public:
  explicit ApiException(ApiError error) : error_(std::move(error)) {}
  const ApiError& error() const { return error_; }
  const char* what() const noexcept override { return error_.message.c_str(); }

 private:
  ApiError error_;
};

ApiError bad_request(std::string message);
ApiError not_found(std::string message);

// The HTTP view of a core error: kInvalidArgument 400 bad_request, kUnsupportedFormat 415,
// kUndecodable 422, kImageTooLarge 413 image_too_large, kModel 503 not_ready, others 500.
ApiError api_error_from(const Error& error);
// Anything else that escaped: 500 internal (the message is logged, not sent).
ApiError api_error_from(const std::exception& error);

// {"error": {"code", "message"}, "request_id"}
std::string error_body(const ApiError& error, const std::string& request_id);

}  // namespace cutout::server
