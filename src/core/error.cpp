#include "core/error.h"

namespace cutout {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "bad_request";
    case ErrorCode::kUnsupportedFormat:
      return "unsupported_media_type";
    case ErrorCode::kUndecodable:
      return "undecodable_image";
    case ErrorCode::kImageTooLarge:
      return "image_too_large";
    case ErrorCode::kIo:
      return "io_error";
    case ErrorCode::kModel:
      return "model_error";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "internal";
}

}  // namespace cutout
