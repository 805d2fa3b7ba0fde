// Feeds the input to the warmer's counts parser, parse_counts_csv (traffic.h: a `time,requests`
// header, then one row per minute), and its first line to parse_time and parse_duration_s.
// Limit: the format allows 10^6 requests per row, each one an arrival in memory; inputs with a
// row over 10^4 are rejected (return -1) so that the fuzzer explores parsing, not push_back.
// (The warmer reads its operator's own files; this is not an upload path.)
// Expected outcomes: sorted arrivals, or Error(kInvalidArgument).
#include <algorithm>
#include <charconv>
#include <string_view>

#include "core/error.h"
#include "fuzz_check.h"
#include "warmer/traffic.h"

namespace {

// Whether some line's text after its first comma reads as a number over `limit` (spaces allowed
// before it, as the parser trims them).
bool has_row_over(std::string_view text, long long limit) {
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    const size_t comma = line.find(',');
    if (comma == std::string_view::npos) continue;
    line.remove_prefix(comma + 1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    long long n = 0;
    const auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), n);
    if (ec == std::errc::result_out_of_range || (ec == std::errc() && n > limit)) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (has_row_over(text, 10'000)) return -1;
  try {
    const cutout::warmer::Traffic traffic = cutout::warmer::parse_counts_csv(text);
    FUZZ_CHECK(std::is_sorted(traffic.arrivals.begin(), traffic.arrivals.end()));
  } catch (const cutout::Error& e) {
    FUZZ_CHECK(e.code() == cutout::ErrorCode::kInvalidArgument);
  }
  const std::string_view first_line = text.substr(0, text.find('\n'));
  double seconds = 0;
  (void)cutout::warmer::parse_time(first_line, &seconds);
  try {
    (void)cutout::warmer::parse_duration_s(first_line);
  } catch (const cutout::Error& e) {
    FUZZ_CHECK(e.code() == cutout::ErrorCode::kInvalidArgument);
  }
  return 0;
}
