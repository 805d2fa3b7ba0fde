// Builds an HttpRequest (http_server.h) from the input and feeds it to parse_process_params
// (process_params.h), as POST /api/v2/process does. One line per parameter:
//   name=value          a query parameter (taken as is: parse_query has its own target)
//   +name=value         a multipart form field
//   Accept:value        the Accept header (for response=image without a response parameter)
// Limits as the server's defaults: max_output_side 4096, max_pixels 50 MP (not used for pixels
// here: the function only validates).
// Expected outcomes: ProcessParams within the ranges the header states, or ApiException (400).
#include <cctype>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "server/api_error.h"
#include "server/http_parse.h"
#include "server/http_server.h"
#include "server/process_params.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr int kMaxOutputSide = 4096;
  constexpr uint64_t kMaxPixels = 50'000'000;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  cutout::server::HttpRequest request;
  request.method = "POST";
  request.path = "/api/v2/process";
  std::string accept;
  while (!input.empty()) {
    const size_t eol = input.find('\n');
    std::string_view line = input.substr(0, eol);
    input = eol == std::string_view::npos ? std::string_view() : input.substr(eol + 1);
    if (line.rfind("Accept:", 0) == 0) {
      accept = std::string(line.substr(7));
      continue;
    }
    const bool form = !line.empty() && line.front() == '+';
    if (form) line.remove_prefix(1);
    const size_t eq = line.find('=');
    std::string name(line.substr(0, eq));
    std::string value(eq == std::string_view::npos ? std::string_view() : line.substr(eq + 1));
    if (form) {
      request.form[name] = value;
    } else {
      request.query.emplace(name, value);
    }
  }
  request.header = [&accept](std::string_view name) {
    return cutout::server::iequals(name, "Accept") ? accept : std::string();
  };
  request.client_gone = [] { return false; };

  try {
    const cutout::server::ProcessParams p =
        cutout::server::parse_process_params(request, kMaxOutputSide, kMaxPixels);
    FUZZ_CHECK(!p.options.effects.empty());
    FUZZ_CHECK(p.options.max_side >= 1 && p.options.max_side <= kMaxOutputSide);
    FUZZ_CHECK(p.options.margin_percent >= 0 && p.options.margin_percent <= 100);
    FUZZ_CHECK(p.options.decode.max_pixels == kMaxPixels);
    FUZZ_CHECK(!(p.image_response && p.stream));
  } catch (const cutout::server::ApiException& e) {
    FUZZ_CHECK(e.error().status() == 400 && !e.error().message.empty());
  }
  return 0;
}
