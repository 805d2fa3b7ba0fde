// SHA-256 of files, to verify model files against their pinned digests.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

namespace cutout {

// Lower-case hex digest.
std::string sha256_hex(std::span<const uint8_t> data);
// Streams the file; throws Error(kIo) when it cannot be read.
std::string sha256_file_hex(const std::filesystem::path& path);

}  // namespace cutout
