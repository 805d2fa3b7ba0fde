#include "server/api_error.h"

#include <nlohmann/json.hpp>

namespace cutout::server {

ApiError bad_request(std::string message) {
  return {400, "bad_request", std::move(message), 0};
}
ApiError not_found(std::string message) {
  return {404, "not_found", std::move(message), 0};
}

ApiError api_error_from(const Error& error) {
  switch (error.code()) {
    case ErrorCode::kInvalidArgument:
      return {400, "bad_request", error.what(), 0};
    case ErrorCode::kUnsupportedFormat:
      return {415, "unsupported_media_type", error.what(), 0};
    case ErrorCode::kUndecodable:
      return {422, "undecodable_image", error.what(), 0};
    case ErrorCode::kImageTooLarge:
      return {413, "image_too_large", error.what(), 0};
    case ErrorCode::kModel:
      return {503, "not_ready", error.what(), 0};
    case ErrorCode::kIo:
    case ErrorCode::kInternal:
      break;
  }
  return {500, "internal", "internal error", 0};
}

ApiError api_error_from(const std::exception& error) {
  if (const auto* e = dynamic_cast<const Error*>(&error)) return api_error_from(*e);
  if (const auto* e = dynamic_cast<const ApiException*>(&error)) return e->error();
  return {500, "internal", "internal error", 0};
}

std::string error_body(const ApiError& error, const std::string& request_id) {
  nlohmann::json j = {{"error", {{"code", error.code}, {"message", error.message}}},
                      {"request_id", request_id}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace cutout::server
