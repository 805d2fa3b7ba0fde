// Standard base64 (RFC 4648, with padding), for images inside JSON responses.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace cutout::server {

// Appends the encoding of `data` to `out` (no line breaks).
void append_base64(std::span<const uint8_t> data, std::string& out);
size_t base64_size(size_t bytes);

}  // namespace cutout::server
