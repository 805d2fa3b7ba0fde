// Feeds a multipart/form-data request to parse_multipart (http_parse.h): the input's first line
// (up to '\n') is the Content-Type header value, the rest is the body. The transport caps bodies
// at max_body_bytes (25 MiB); libFuzzer's input length (4 KiB by default) is far below that.
// Expected outcomes: true, or false with the reason in *error; never an exception.
#include <map>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "server/http_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string_view content_type = input.substr(0, newline);
  const std::string_view body =
      newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);

  std::map<std::string, std::string> form;
  std::map<std::string, cutout::server::FilePart> files;
  std::string error;
  if (cutout::server::parse_multipart(body, content_type, &form, &files, &error)) {
    for (const auto& [name, value] : form) {
      FUZZ_CHECK(!name.empty() && !files.count(name));  // a name is a field or a file, not both
      FUZZ_CHECK(value.size() <= body.size());
    }
    for (const auto& [name, part] : files) FUZZ_CHECK(!name.empty() && part.content.size() <= body.size());
  } else {
    FUZZ_CHECK(!error.empty());
  }
  return 0;
}
