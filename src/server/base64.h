// Base64 (RFC 4648): standard with padding, for images inside JSON responses; URL-safe for ids.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace cutout::server {

// Appends the encoding of `data` to `out` (no line breaks).
void append_base64(std::span<const uint8_t> data, std::string& out);
size_t base64_size(size_t bytes);
// Decodes standard or URL-safe base64, padded or not, ignoring whitespace and a leading data URI
// ("data:image/png;base64,"). Returns false (out unspecified) for any other character or a
// truncated quantum.
bool base64_decode(std::string_view text, std::string& out);
// URL-safe base64 without padding (RFC 4648 §5), for ids and tokens in URLs.
std::string base64url(std::span<const uint8_t> data);

}  // namespace cutout::server
