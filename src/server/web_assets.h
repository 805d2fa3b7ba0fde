// The web page and the ops dashboard (web/), embedded in the binary at build time
// (cmake/embed_web.cmake), so a container needs no files beside the executable.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

namespace cutout::server {

struct WebAsset {
  std::string_view name;  // file name in web/, e.g. "index.html"
  const char* data;
  size_t size;
  std::string_view etag;  // "\"<first 32 hex digits of its SHA-256>\"", made at build time
};

const std::vector<WebAsset>& web_assets();

// The asset of that name, or nullptr.
const WebAsset* find_web_asset(std::string_view name);
// A plain file name of web/ ("app.js"): letters, digits, '.', '-', '_', not starting with '.'.
bool web_file_name_ok(std::string_view name);
// Content type by file extension.
std::string_view web_content_type(std::string_view name);

}  // namespace cutout::server
