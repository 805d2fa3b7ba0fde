// Errors as the HTTP API reports them. Every error the server answers with has a typed code, and
// one table (api_error.cpp) maps each code to its HTTP status, its stable name (SPEC §3), its
// Retry-After hint and the reason it is counted under; the core's ErrorCode maps onto it in one
// switch. Nothing else in the server writes a status for an error. (Triton's HttpCodeFromError
// is the model.)
#pragma once

#include <exception>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/error.h"

namespace cutout::server {

enum class ApiCode {
  kBadRequest,            // 400 bad_request: a parameter, header or body we cannot use
  kUnauthorized,          // 401 unauthorized: missing or wrong API key
  kForbidden,             // 403 forbidden: wrong delete token
  kNotFound,              // 404 not_found
  kMethodNotAllowed,      // 405 method_not_allowed: the path exists, not with this method
  kRequestTimeout,        // 408 request_timeout: headers or body too slow (the transport)
  kPayloadTooLarge,       // 413 payload_too_large: the body is over the limit
  kImageTooLarge,         // 413 image_too_large: the pixel count is (from the header)
  kUnsupportedMediaType,  // 415 unsupported_media_type: not an image format we read
  kUndecodableImage,      // 422 undecodable_image: a format we read, corrupt or truncated
  kOverloaded,            // 429 overloaded: the queue is full, or a rate limit
  kHeadersTooLarge,       // 431 headers_too_large (the transport)
  kClientGone,            // 499 client_gone: the client left; for the log and metrics, never sent
  kInternal,              // 500 internal: a bug (the message is logged, not sent)
  kNotReady,              // 503 not_ready: the model is loading or failed, or the server drains
  kStoreUnavailable,      // 503 store_unavailable: the share store cannot be reached
  kTooManyConnections,    // 503 too_many_connections: --max-connections (the transport)
  kTimeout,               // 504 timeout: no result within --request-timeout-ms
};

struct ApiCodeInfo {
  ApiCode code;
  int status;
  std::string_view name;    // the "code" of SPEC §3's JSON body
  int retry_after_s;        // the Retry-After hint; 0: none
  std::string_view reason;  // cutout_rejected_total{reason} when a refusal is counted; "": not counted
};

// The table, one row per ApiCode in declaration order.
std::span<const ApiCodeInfo> api_codes();
const ApiCodeInfo& api_code_info(ApiCode code);
// The HTTP view of a core error: kInvalidArgument bad_request, kUnsupportedFormat
// unsupported_media_type, kUndecodable undecodable_image, kImageTooLarge image_too_large,
// kModel not_ready, kIo and kInternal internal.
ApiCode api_code_from(ErrorCode code);

struct ApiError {
  ApiError() = default;
  ApiError(ApiCode c, std::string m, std::optional<int> retry = std::nullopt)
      : code(c), message(std::move(m)), retry_after_s(retry) {}

  ApiCode code = ApiCode::kInternal;
  std::string message;
  std::optional<int> retry_after_s;  // instead of the table's hint (e.g. the queue's own estimate)

  int status() const { return api_code_info(code).status; }
  std::string_view name() const { return api_code_info(code).name; }
  int retry_after() const { return retry_after_s.value_or(api_code_info(code).retry_after_s); }
};

// Thrown by handlers and their helpers; Service::handle turns it into the response.
class ApiException : public std::exception {
 public:
  explicit ApiException(ApiError error) : error_(std::move(error)) {}
  ApiException(ApiCode code, std::string message, std::optional<int> retry_after_s = std::nullopt)
      : error_(code, std::move(message), retry_after_s) {}
  const ApiError& error() const { return error_; }
  const char* what() const noexcept override { return error_.message.c_str(); }

 private:
  ApiError error_;
};

ApiError bad_request(std::string message);
ApiError not_found(std::string message);

// A core error, with its message.
ApiError api_error_from(const Error& error);
// Anything that escaped a handler: an ApiException's error, a core error, else internal (the
// message is logged, not sent).
ApiError api_error_from(const std::exception& error);

// {"error": {"code", "message"}, "request_id"}; without a request id when `request_id` is empty.
// A message over 1 KiB is cut there (it quotes what it refuses, which may be huge).
std::string error_body(const ApiError& error, const std::string& request_id);

}  // namespace cutout::server
