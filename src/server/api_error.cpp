#include "server/api_error.h"

#include <array>

#include <nlohmann/json.hpp>

namespace cutout::server {
namespace {

// clang-format off
constexpr std::array kApiCodes = {
    //          code                           status  name                      retry  counted as
    ApiCodeInfo{ApiCode::kBadRequest,           400, "bad_request",              0, "bad_request"},
    ApiCodeInfo{ApiCode::kUnauthorized,         401, "unauthorized",             0, "unauthorized"},
    ApiCodeInfo{ApiCode::kForbidden,            403, "forbidden",                0, ""},
    ApiCodeInfo{ApiCode::kNotFound,             404, "not_found",                0, ""},
    ApiCodeInfo{ApiCode::kMethodNotAllowed,     405, "method_not_allowed",       0, ""},
    ApiCodeInfo{ApiCode::kRequestTimeout,       408, "request_timeout",          0, "request_timeout"},
    ApiCodeInfo{ApiCode::kPayloadTooLarge,      413, "payload_too_large",        0, "payload_too_large"},
    ApiCodeInfo{ApiCode::kImageTooLarge,        413, "image_too_large",          0, "image_too_large"},
    ApiCodeInfo{ApiCode::kUnsupportedMediaType, 415, "unsupported_media_type",   0, "unsupported_media_type"},
    ApiCodeInfo{ApiCode::kUndecodableImage,     422, "undecodable_image",        0, "undecodable"},
    ApiCodeInfo{ApiCode::kOverloaded,           429, "overloaded",               1, "queue_full"},
    ApiCodeInfo{ApiCode::kHeadersTooLarge,      431, "headers_too_large",        0, "headers_too_large"},
    ApiCodeInfo{ApiCode::kClientGone,           499, "client_gone",              0, "client_gone"},
    ApiCodeInfo{ApiCode::kInternal,             500, "internal",                 0, ""},
    ApiCodeInfo{ApiCode::kNotReady,             503, "not_ready",                1, "not_ready"},
    ApiCodeInfo{ApiCode::kStoreUnavailable,     503, "store_unavailable",        1, ""},
    ApiCodeInfo{ApiCode::kTooManyConnections,   503, "too_many_connections",     1, "too_many_connections"},
    ApiCodeInfo{ApiCode::kTimeout,              504, "timeout",                  0, "timeout"},
};
// clang-format on

constexpr bool in_declaration_order() {
  for (size_t i = 0; i < kApiCodes.size(); ++i) {
    if (static_cast<size_t>(kApiCodes[i].code) != i) return false;
  }
  return true;
}
static_assert(in_declaration_order(), "one row per ApiCode, in the enum's order");
static_assert(kApiCodes.back().code == ApiCode::kTimeout, "a row for every ApiCode");

}  // namespace

std::span<const ApiCodeInfo> api_codes() {
  return kApiCodes;
}

const ApiCodeInfo& api_code_info(ApiCode code) {
  return kApiCodes.at(static_cast<size_t>(code));
}

ApiCode api_code_from(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return ApiCode::kBadRequest;
    case ErrorCode::kUnsupportedFormat:
      return ApiCode::kUnsupportedMediaType;
    case ErrorCode::kUndecodable:
      return ApiCode::kUndecodableImage;
    case ErrorCode::kImageTooLarge:
      return ApiCode::kImageTooLarge;
    case ErrorCode::kModel:
      return ApiCode::kNotReady;
    case ErrorCode::kIo:
    case ErrorCode::kInternal:
      break;
  }
  return ApiCode::kInternal;
}

ApiError bad_request(std::string message) {
  return {ApiCode::kBadRequest, std::move(message), std::nullopt};
}

ApiError not_found(std::string message) {
  return {ApiCode::kNotFound, std::move(message), std::nullopt};
}

ApiError api_error_from(const Error& error) {
  const ApiCode code = api_code_from(error.code());
  // A model error is not retried soon: it does not go away on its own.
  const std::optional<int> retry = code == ApiCode::kNotReady ? std::optional<int>(0) : std::nullopt;
  return {code, code == ApiCode::kInternal ? "internal error" : error.what(), retry};
}

ApiError api_error_from(const std::exception& error) {
  if (const auto* e = dynamic_cast<const Error*>(&error)) return api_error_from(*e);
  if (const auto* e = dynamic_cast<const ApiException*>(&error)) return e->error();
  return {ApiCode::kInternal, "internal error", std::nullopt};
}

std::string error_body(const ApiError& error, const std::string& request_id) {
  // Messages quote the value they refuse; a hostile one can be megabytes (a 25 MB form field).
  constexpr size_t kMaxMessageBytes = 1024;
  std::string message = error.message;
  if (message.size() > kMaxMessageBytes) {
    message =
        message.substr(0, kMaxMessageBytes) + "... (" + std::to_string(error.message.size()) + " bytes)";
  }
  nlohmann::json j = {{"error", {{"code", error.name()}, {"message", message}}}};
  if (!request_id.empty()) j["request_id"] = request_id;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace cutout::server
