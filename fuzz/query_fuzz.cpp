// Feeds the input to the query-string helpers of http_parse.h: parse_query (the whole input as
// the part after '?'), url_decode in both modes, and header_parameter (the input as a header
// value, e.g. a Content-Type, asked for "boundary" and "name"). No limits needed.
// Expected outcomes: never an exception; decoding never grows the text; no empty query names.
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "server/http_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  for (const auto& [name, value] : cutout::server::parse_query(input)) {
    FUZZ_CHECK(!name.empty());
    FUZZ_CHECK(name.size() + value.size() <= input.size());
  }
  FUZZ_CHECK(cutout::server::url_decode(input, true).size() <= input.size());
  FUZZ_CHECK(cutout::server::url_decode(input, false).size() <= input.size());
  FUZZ_CHECK(cutout::server::header_parameter(input, "boundary").size() <= input.size());
  FUZZ_CHECK(cutout::server::header_parameter(input, "name").size() <= input.size());
  return 0;
}
