// Typed errors of the core library and the inference layer.
//
// Everything below the CLI and the server reports failure by throwing cutout::Error with one of the
// codes below; the front ends map the code to an exit status (CLI) or an HTTP status (server) in one
// place each. Other exceptions reaching a front end are bugs and are reported as `internal`.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace cutout {

enum class ErrorCode {
  kInvalidArgument,    // a parameter or option value the caller got wrong
  kUnsupportedFormat,  // bytes that are not one of the image formats we read
  kUndecodable,        // a supported format, but corrupt or truncated
  kImageTooLarge,      // pixel count over the configured limit (checked from the header)
  kIo,                 // a file could not be read or written
  kModel,              // the model file is missing, invalid, or inference failed
  kInternal,
};

// Stable snake_case name of a code, e.g. "undecodable_image"; used in CLI messages and JSON.
std::string_view error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace cutout
