// Base64 (RFC 4648): standard with padding, for images inside JSON responses; URL-safe for ids.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace cutout::server {

// Appends the encoding of `data` to `out` (no line breaks).
void append_base64(std::span<const uint8_t> data, std::string& out);
size_t base64_size(size_t bytes);
// URL-safe base64 without padding (RFC 4648 §5), for ids and tokens in URLs.
std::string base64url(std::span<const uint8_t> data);

}  // namespace cutout::server
