#include "prometheus_text.h"

#include <cctype>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

namespace cutout::server {
namespace {

TEST(PrometheusText, ParsesAFullExposition) {
  const std::string text =
      "# HELP http_requests_total The total number of HTTP requests, \\\\ and \\n escaped.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
      "http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n"
      "\n"
      "# A plain comment is ignored, even one that says # TYPE x nonsense\n"
      "# TYPE msdos_file_access_time_seconds gauge\n"
      "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find "
      "file:\\n\\\"FILE.TXT\\\"\"} "
      "1.458255915e9\n"
      "# TYPE metric_without_timestamp_and_labels gauge\n"
      "metric_without_timestamp_and_labels 12.47\n"
      "# TYPE something_weird gauge\n"
      "something_weird{problem=\"division by zero\"} +Inf -3982045\n"
      "# HELP http_request_duration_seconds A histogram of the request duration.\n"
      "# TYPE http_request_duration_seconds histogram\n"
      "http_request_duration_seconds_bucket{le=\"0.05\"} 24054\n"
      "http_request_duration_seconds_bucket{le=\"+Inf\"} 144320\n"
      "http_request_duration_seconds_sum 53423\n"
      "http_request_duration_seconds_count 144320\n"
      "# TYPE rpc_duration_seconds summary\n"
      "rpc_duration_seconds{quantile=\"0.5\"} 4773\n"
      "rpc_duration_seconds_sum 1.7560473e+07\n"
      "rpc_duration_seconds_count 2693\n"
      "# TYPE odd untyped\n"
      "\todd{ a = \"1\" , b=\"\", } -Inf\n"
      "# TYPE not_a_number gauge\n"
      "not_a_number NaN\n";
  auto s = parse_prometheus_text(text);
  EXPECT_EQ(s.size(), 14u);
  EXPECT_EQ(s.at(R"(http_requests_total{code="200",method="post"})"), 1027);
  EXPECT_EQ(s.at(R"(http_requests_total{code="400",method="post"})"), 3);
  EXPECT_EQ(
      s.at(
          R"(msdos_file_access_time_seconds{error="Cannot find file:\n\"FILE.TXT\"",path="C:\\DIR\\FILE.TXT"})"),
      1.458255915e9);
  EXPECT_EQ(s.at("metric_without_timestamp_and_labels"), 12.47);
  EXPECT_EQ(s.at(R"(something_weird{problem="division by zero"})"), std::numeric_limits<double>::infinity());
  EXPECT_EQ(s.at(R"(http_request_duration_seconds_bucket{le="+Inf"})"), 144320);
  EXPECT_EQ(s.at("http_request_duration_seconds_sum"), 53423);
  EXPECT_EQ(s.at(R"(rpc_duration_seconds{quantile="0.5"})"), 4773);
  EXPECT_EQ(s.at("rpc_duration_seconds_sum"), 1.7560473e+07);
  EXPECT_EQ(s.at(R"(odd{a="1",b=""})"), -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(s.at("not_a_number")));
}

TEST(PrometheusText, KeysSortLabelsAndEscapeValues) {
  auto s = parse_prometheus_text("# TYPE m gauge\nm{z=\"1\",a=\"q\\\"\\\\\\n\"} 5\nm{} 6\n");
  EXPECT_EQ(s.at("m{a=\"q\\\"\\\\\\n\",z=\"1\"}"), 5);
  EXPECT_EQ(s.at("m"), 6);  // an empty label set is the bare name
  EXPECT_EQ(prometheus_series_key("m", {{"z", "1"}, {"a", "q\"\\\n"}}), "m{a=\"q\\\"\\\\\\n\",z=\"1\"}");
  EXPECT_EQ(prometheus_series_key("m"), "m");
}

TEST(PrometheusText, NumberForms) {
  auto s = parse_prometheus_text(
      "# TYPE n gauge\n"
      "n{v=\"a\"} -1.5e-3\nn{v=\"b\"} .5\nn{v=\"c\"} 7.\nn{v=\"d\"} +2\nn{v=\"e\"} inf\nn{v=\"f\"} "
      "-Infinity\n"
      "n{v=\"g\"} 1E3 -5\n");
  EXPECT_EQ(s.at(R"(n{v="a"})"), -1.5e-3);
  EXPECT_EQ(s.at(R"(n{v="b"})"), 0.5);
  EXPECT_EQ(s.at(R"(n{v="c"})"), 7);
  EXPECT_EQ(s.at(R"(n{v="d"})"), 2);
  EXPECT_EQ(s.at(R"(n{v="e"})"), std::numeric_limits<double>::infinity());
  EXPECT_EQ(s.at(R"(n{v="f"})"), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(s.at(R"(n{v="g"})"), 1000);
}

TEST(PrometheusText, EmptyTextHasNoSamples) {
  EXPECT_TRUE(parse_prometheus_text("").empty());
  EXPECT_TRUE(parse_prometheus_text("\n\n# just a comment\n").empty());
}

TEST(PrometheusText, SampleOrReturnsValueOrFallback) {
  auto s = parse_prometheus_text("# TYPE a counter\na 4\n");
  EXPECT_EQ(prometheus_sample_or(s, "a"), 4);
  EXPECT_EQ(prometheus_sample_or(s, "b"), 0);
  EXPECT_EQ(prometheus_sample_or(s, "b", -1), -1);
}

struct Malformed {
  const char* what;
  const char* text;
};

class PrometheusTextRejects : public testing::TestWithParam<Malformed> {};

TEST_P(PrometheusTextRejects, Throws) {
  // Each case is one defect in an otherwise valid exposition (see BaseOfTheMalformedCasesParses).
  EXPECT_THROW(parse_prometheus_text(GetParam().text), std::runtime_error) << GetParam().what;
}

TEST(PrometheusText, BaseOfTheMalformedCasesParses) {
  // The exposition the malformed cases are variations of, so that they fail for their defect only.
  EXPECT_EQ(parse_prometheus_text("# HELP a help\n# TYPE a counter\na{x=\"1\"} 1 123\n").size(), 1u);
}

const Malformed kMalformed[] = {
    {"HELP without name", "# HELP\n# TYPE a counter\na 1\n"},
    {"HELP with invalid name", "# HELP 1a help\n# TYPE a counter\na 1\n"},
    {"HELP name with bad character", "# HELP a-b help\n# TYPE a counter\na 1\n"},
    {"HELP with bad escape", "# HELP a he\\lp\n# TYPE a counter\na 1\n"},
    {"HELP ending in a backslash", "# HELP a help\\\n# TYPE a counter\na 1\n"},
    {"second HELP", "# HELP a help\n# HELP a help\n# TYPE a counter\na 1\n"},
    {"TYPE without name", "# TYPE\na 1\n"},
    {"TYPE without type", "# TYPE a\na 1\n"},
    {"unknown type", "# TYPE a countr\na 1\n"},
    {"type in capitals", "# TYPE a COUNTER\na 1\n"},
    {"junk after TYPE", "# TYPE a counter extra\na 1\n"},
    {"second TYPE", "# TYPE a counter\n# TYPE a counter\na 1\n"},
    {"sample without TYPE", "a 1\n"},
    {"sample with only HELP", "# HELP a help\na 1\n"},
    {"sample of another family", "# TYPE a counter\nb 1\n"},
    {"family not contiguous", "# TYPE a counter\na{x=\"1\"} 1\n# TYPE b gauge\nb 1\na{x=\"2\"} 1\n"},
    {"HELP of a closed family", "# TYPE a counter\na 1\n# TYPE b gauge\nb 1\n# HELP a late\n"},
    {"counter with histogram suffix", "# TYPE a counter\na_sum 1\n"},
    {"histogram bare name", "# TYPE h histogram\nh 1\n"},
    {"bucket without le", "# TYPE h histogram\nh_bucket 1\n"},
    {"bucket with bad le", "# TYPE h histogram\nh_bucket{le=\"big\"} 1\n"},
    {"summary quantile missing", "# TYPE s summary\ns 1\n"},
    {"bad metric name", "# TYPE a counter\n1a 1\n"},
    {"bad character in metric name", "# TYPE a counter\na-b 1\n"},
    {"bad label name", "# TYPE a counter\na{1x=\"1\"} 1\n"},
    {"label name with colon", "# TYPE a counter\na{x:y=\"1\"} 1\n"},
    {"label without =", "# TYPE a counter\na{x\"1\"} 1\n"},
    {"label value unquoted", "# TYPE a counter\na{x=1} 1\n"},
    {"label value unterminated", "# TYPE a counter\na{x=\"1} 1\n"},
    {"label set unterminated", "# TYPE a counter\na{x=\"1\" 1\n"},
    {"labels without comma", "# TYPE a counter\na{x=\"1\" y=\"2\"} 1\n"},
    {"bad escape in label value", "# TYPE a counter\na{x=\"\\t\"} 1\n"},
    {"repeated label", "# TYPE a counter\na{x=\"1\",x=\"2\"} 1\n"},
    {"leading comma", "# TYPE a counter\na{,x=\"1\"} 1\n"},
    {"missing value", "# TYPE a counter\na\n"},
    {"missing value after labels", "# TYPE a counter\na{x=\"1\"}\n"},
    {"no blank before value", "# TYPE a counter\na{x=\"1\"}1\n"},
    {"non-number value", "# TYPE a counter\na abc\n"},
    {"two dots", "# TYPE a counter\na 1.2.3\n"},
    {"hex value", "# TYPE a counter\na 0x10\n"},
    {"signed NaN", "# TYPE a counter\na -NaN\n"},
    {"exponent without digits", "# TYPE a counter\na 1e\n"},
    {"out of range value", "# TYPE a counter\na 1e999\n"},
    {"fractional timestamp", "# TYPE a counter\na 1 1.5\n"},
    {"non-number timestamp", "# TYPE a counter\na 1 12a\n"},
    {"junk after timestamp", "# TYPE a counter\na 1 123 x\n"},
    {"duplicate series", "# TYPE a counter\na{x=\"1\",y=\"2\"} 1\na{y=\"2\",x=\"1\"} 2\n"},
    {"no final newline", "# TYPE a counter\na 1"},
    {"carriage return", "# TYPE a counter\r\na 1\r\n"},
};

INSTANTIATE_TEST_SUITE_P(Malformed, PrometheusTextRejects, testing::ValuesIn(kMalformed),
                         [](const testing::TestParamInfo<Malformed>& info) {
                           std::string name;
                           for (const char* c = info.param.what; *c; ++c)
                             name += std::isalnum(static_cast<unsigned char>(*c)) ? *c : '_';
                           return name;
                         });

}  // namespace
}  // namespace cutout::server
