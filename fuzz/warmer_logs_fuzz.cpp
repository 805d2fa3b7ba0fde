// Feeds the input to the warmer's request-log parser, parse_request_logs (traffic.h: the
// service's JSON log lines, or a Cloud Logging export as a JSON array). No limits needed: one
// arrival per log entry, so memory stays proportional to the input.
// Expected outcomes: sorted arrivals, or Error(kInvalidArgument) naming the line or entry.
#include <algorithm>
#include <string_view>

#include "core/error.h"
#include "fuzz_check.h"
#include "warmer/traffic.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const cutout::warmer::Traffic traffic = cutout::warmer::parse_request_logs(text);
    FUZZ_CHECK(std::is_sorted(traffic.arrivals.begin(), traffic.arrivals.end()));
    FUZZ_CHECK(traffic.arrivals.size() <= size);
  } catch (const cutout::Error& e) {
    FUZZ_CHECK(e.code() == cutout::ErrorCode::kInvalidArgument);
  }
  return 0;
}
