#include "server/metrics.h"
#include "server/serve_config.h"

#include <atomic>
#include <cmath>
#include <ctime>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "prometheus_text.h"

namespace cutout::server {
namespace {

using Process = MetricsRegistry::ProcessMetrics;

TEST(MetricsRegistry, RendersGoldenText) {
  MetricsRegistry reg(Process::kOmit);
  reg.counter("cutout_requests_total", "Requests by endpoint and code.",
              {{"endpoint", "/healthz"}, {"code", "200"}})
      .inc(3);
  // Labels in another order name the same label set; the first call's order is the rendered one,
  // and the first help text is kept.
  reg.counter("cutout_requests_total", "ignored", {{"code", "503"}, {"endpoint", "/readyz"}}).inc();
  reg.gauge("cutout_queue_depth", "Jobs waiting.").set(2.5);
  Histogram& h = reg.histogram("cutout_request_duration_seconds", "Request latency.", {0.25, 1},
                               {{"endpoint", "/api/v2/process"}});
  for (double v : {0.125, 0.25, 0.5, 7.0}) h.observe(v);
  reg.gauge_callback("cutout_model_ready", "1 when the model is ready.", [] { return 1.0; });

  const std::string expected =
      "# HELP cutout_model_ready 1 when the model is ready.\n"
      "# TYPE cutout_model_ready gauge\n"
      "cutout_model_ready 1\n"
      "# HELP cutout_queue_depth Jobs waiting.\n"
      "# TYPE cutout_queue_depth gauge\n"
      "cutout_queue_depth 2.5\n"
      "# HELP cutout_request_duration_seconds Request latency.\n"
      "# TYPE cutout_request_duration_seconds histogram\n"
      "cutout_request_duration_seconds_bucket{endpoint=\"/api/v2/process\",le=\"0.25\"} 2\n"
      "cutout_request_duration_seconds_bucket{endpoint=\"/api/v2/process\",le=\"1\"} 3\n"
      "cutout_request_duration_seconds_bucket{endpoint=\"/api/v2/process\",le=\"+Inf\"} 4\n"
      "cutout_request_duration_seconds_sum{endpoint=\"/api/v2/process\"} 7.875\n"
      "cutout_request_duration_seconds_count{endpoint=\"/api/v2/process\"} 4\n"
      "# HELP cutout_requests_total Requests by endpoint and code.\n"
      "# TYPE cutout_requests_total counter\n"
      "cutout_requests_total{endpoint=\"/healthz\",code=\"200\"} 3\n"
      "cutout_requests_total{endpoint=\"/readyz\",code=\"503\"} 1\n";
  EXPECT_EQ(reg.render(), expected);
}

TEST(MetricsRegistry, EmptyRegistryRendersNothingWithoutProcessMetrics) {
  MetricsRegistry reg(Process::kOmit);
  EXPECT_EQ(reg.render(), "");
}

TEST(Histogram, BucketsAreCumulativeAndUpperBoundsInclusive) {
  MetricsRegistry reg(Process::kOmit);
  Histogram& h = reg.histogram("h_seconds", "h", {1, 2, 3});
  for (double v : {0.0, 1.0, 1.5, 2.0, 3.0, 3.5}) h.observe(v);
  Histogram::Snapshot s = h.snapshot();
  EXPECT_EQ(s.cumulative_counts, (std::vector<uint64_t>{2, 4, 5, 6}));
  EXPECT_EQ(s.count, 6u);
  EXPECT_EQ(h.count(), 6u);
  EXPECT_DOUBLE_EQ(h.sum(), 11.0);

  auto samples = parse_prometheus_text(reg.render());
  EXPECT_EQ(samples.at(R"(h_seconds_bucket{le="1"})"), 2);
  EXPECT_EQ(samples.at(R"(h_seconds_bucket{le="2"})"), 4);
  EXPECT_EQ(samples.at(R"(h_seconds_bucket{le="3"})"), 5);
  EXPECT_EQ(samples.at(R"(h_seconds_bucket{le="+Inf"})"), 6);
  EXPECT_EQ(samples.at("h_seconds_sum"), 11);
  EXPECT_EQ(samples.at("h_seconds_count"), 6);
}

TEST(Histogram, NanGoesToInfBucketOnly) {
  Histogram h({1});
  h.observe(0.5);
  h.observe(std::numeric_limits<double>::quiet_NaN());
  Histogram::Snapshot s = h.snapshot();
  EXPECT_EQ(s.cumulative_counts, (std::vector<uint64_t>{1, 2}));
  EXPECT_TRUE(std::isnan(s.sum));
}

TEST(Histogram, InvalidBucketsThrow) {
  EXPECT_THROW(Histogram({1, 1}), std::invalid_argument);
  EXPECT_THROW(Histogram({2, 1}), std::invalid_argument);
  EXPECT_THROW(Histogram({1, std::numeric_limits<double>::infinity()}), std::invalid_argument);
  EXPECT_THROW(Histogram({std::numeric_limits<double>::quiet_NaN()}), std::invalid_argument);
  MetricsRegistry reg(Process::kOmit);
  EXPECT_THROW(reg.histogram("h", "h", {3, 2}), std::invalid_argument);
  EXPECT_EQ(reg.render(), "");  // no family left behind by the failed call
}

TEST(MetricsRegistry, EscapesLabelValuesAndHelp) {
  MetricsRegistry reg(Process::kOmit);
  const std::string value = "a\"b\\c\nd";
  reg.counter("x_total", "first line\nback\\slash \"quoted\"", {{"path", value}}).inc();
  const std::string text = reg.render();
  EXPECT_NE(text.find("# HELP x_total first line\\nback\\\\slash \"quoted\"\n"), std::string::npos) << text;
  EXPECT_NE(text.find("x_total{path=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos) << text;
  auto samples = parse_prometheus_text(text);
  EXPECT_EQ(prometheus_sample_or(samples, prometheus_series_key("x_total", {{"path", value}}), -1), 1);
}

TEST(MetricsRegistry, SameNameAndLabelsGiveTheSameChild) {
  MetricsRegistry reg(Process::kOmit);
  Counter& a = reg.counter("c_total", "c", {{"x", "1"}, {"y", "2"}});
  EXPECT_EQ(&a, &reg.counter("c_total", "c", {{"x", "1"}, {"y", "2"}}));
  EXPECT_EQ(&a, &reg.counter("c_total", "c", {{"y", "2"}, {"x", "1"}}));
  EXPECT_NE(&a, &reg.counter("c_total", "c", {{"x", "1"}, {"y", "3"}}));
  Gauge& g = reg.gauge("g", "g");
  EXPECT_EQ(&g, &reg.gauge("g", "g"));
  Histogram& h = reg.histogram("h", "h", {1}, {{"k", "v"}});
  EXPECT_EQ(&h, &reg.histogram("h", "h", {1}, {{"k", "v"}}));
  a.inc(2);
  EXPECT_EQ(reg.counter("c_total", "c", {{"y", "2"}, {"x", "1"}}).value(), 2);
}

TEST(MetricsRegistry, ReuseWithAnotherTypeOrLabelsThrows) {
  MetricsRegistry reg(Process::kOmit);
  reg.counter("m", "m", {{"a", "1"}});
  EXPECT_THROW(reg.gauge("m", "m", {{"a", "1"}}), std::logic_error);
  EXPECT_THROW(reg.histogram("m", "m", {1}, {{"a", "1"}}), std::logic_error);
  EXPECT_THROW(reg.gauge_callback("m", "m", [] { return 0.0; }, {{"a", "1"}}), std::logic_error);
  EXPECT_THROW(reg.counter("m", "m", {{"b", "1"}}), std::logic_error);
  EXPECT_THROW(reg.counter("m", "m"), std::logic_error);
  EXPECT_THROW(reg.counter("m", "m", {{"a", "1"}, {"b", "2"}}), std::logic_error);
  reg.histogram("h", "h", {1, 2});
  EXPECT_THROW(reg.histogram("h", "h", {1, 3}), std::logic_error);
  reg.gauge("g", "g");
  EXPECT_THROW(reg.gauge_callback("g", "g", [] { return 0.0; }), std::logic_error);
}

TEST(MetricsRegistry, InvalidNamesThrow) {
  MetricsRegistry reg(Process::kOmit);
  EXPECT_THROW(reg.counter("", "h"), std::invalid_argument);
  EXPECT_THROW(reg.counter("1abc", "h"), std::invalid_argument);
  EXPECT_THROW(reg.counter("a-b", "h"), std::invalid_argument);
  EXPECT_THROW(reg.counter("a", "h", {{"1x", "v"}}), std::invalid_argument);
  EXPECT_THROW(reg.counter("a", "h", {{"a:b", "v"}}), std::invalid_argument);
  EXPECT_THROW(reg.counter("a", "h", {{"__name", "v"}}), std::invalid_argument);
  EXPECT_THROW(reg.counter("a", "h", {{"x", "1"}, {"x", "2"}}), std::invalid_argument);
  EXPECT_THROW(reg.histogram("hist", "h", {1}, {{"le", "1"}}), std::invalid_argument);
  EXPECT_THROW(reg.gauge("process_open_fds", "h"), std::invalid_argument);
  EXPECT_THROW(reg.gauge_callback("cb", "h", nullptr), std::invalid_argument);
  EXPECT_EQ(reg.render(), "");
  EXPECT_NO_THROW(reg.counter("ns:sub_total", "colons are allowed in metric names", {{"_x9", "v"}}));
}

TEST(Counter, RejectsNegativeAndNanIncrements) {
  Counter c;
  c.inc(0.5);
  EXPECT_THROW(c.inc(-1), std::invalid_argument);
  EXPECT_THROW(c.inc(std::numeric_limits<double>::quiet_NaN()), std::invalid_argument);
  EXPECT_EQ(c.value(), 0.5);
}

TEST(Gauge, SetIncDec) {
  Gauge g;
  g.set(10);
  g.inc();
  g.inc(2.5);
  g.dec(4);
  EXPECT_DOUBLE_EQ(g.value(), 9.5);
  g.dec(20);
  EXPECT_DOUBLE_EQ(g.value(), -10.5);
}

TEST(MetricsRegistry, FormatsValuesSoPrometheusParsesThem) {
  EXPECT_EQ(format_sample_value(0), "0");
  EXPECT_EQ(format_sample_value(-0.0), "0");
  EXPECT_EQ(format_sample_value(42), "42");
  EXPECT_EQ(format_sample_value(-3), "-3");
  EXPECT_EQ(format_sample_value(1e6), "1000000");
  EXPECT_EQ(format_sample_value(9007199254740991.0), "9007199254740991");
  EXPECT_EQ(format_sample_value(0.1), "0.1");
  EXPECT_EQ(format_sample_value(2.5e-7), "2.5e-07");
  EXPECT_EQ(format_sample_value(1e20), "1e+20");
  EXPECT_EQ(format_sample_value(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(format_sample_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_sample_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_sample_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
  for (double v : {0.1, 1.0 / 3, 123456.789, 2.5e-7, 1e300}) EXPECT_EQ(std::stod(format_sample_value(v)), v);
}

TEST(MetricsRegistry, GaugeCallbackIsComputedAtScrapeTime) {
  MetricsRegistry reg(Process::kOmit);
  std::atomic<int> depth{1};
  reg.gauge_callback("depth", "d", [&] { return depth.load(); });
  EXPECT_EQ(parse_prometheus_text(reg.render()).at("depth"), 1);
  depth = 7;
  EXPECT_EQ(parse_prometheus_text(reg.render()).at("depth"), 7);
  reg.gauge_callback("depth", "d", [] { return 3.0; });  // replaces
  EXPECT_EQ(parse_prometheus_text(reg.render()).at("depth"), 3);
}

TEST(MetricsRegistry, ThrowingCallbackRendersNan) {
  MetricsRegistry reg(Process::kOmit);
  reg.gauge_callback("broken", "b", []() -> double { throw std::runtime_error("no GPU"); });
  reg.gauge("fine", "f").set(1);
  std::string text;
  ASSERT_NO_THROW(text = reg.render());
  auto samples = parse_prometheus_text(text);
  EXPECT_TRUE(std::isnan(samples.at("broken")));
  EXPECT_EQ(samples.at("fine"), 1);
}

TEST(MetricsRegistry, CallbackMayUseTheRegistry) {
  // render() calls callbacks without its lock; holding it would deadlock here.
  MetricsRegistry reg(Process::kOmit);
  reg.gauge_callback("scrapes", "s", [&] {
    Counter& c = reg.counter("scrape_calls_total", "c");
    c.inc();
    return c.value();
  });
  reg.render();
  EXPECT_EQ(parse_prometheus_text(reg.render()).at("scrapes"), 2);
}

TEST(MetricsRegistry, ConcurrentUpdatesSumExactly) {
  MetricsRegistry reg(Process::kOmit);
  constexpr int kThreads = 8, kPerThread = 100000;
  Counter& counter = reg.counter("c_total", "c");
  Gauge& gauge = reg.gauge("g", "g");
  Histogram& hist = reg.histogram("h", "h", {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Half the threads look their counter up every time, as a handler that does not cache would.
      for (int i = 0; i < kPerThread; ++i) {
        (t % 2 ? reg.counter("c_total", "c") : counter).inc();
        gauge.inc(2);
        gauge.dec();
        hist.observe(i % 2 ? 0.5 : 2);
      }
    });
  }
  for (auto& th : threads) th.join();
  constexpr double kTotal = double(kThreads) * kPerThread;
  EXPECT_EQ(counter.value(), kTotal);
  EXPECT_EQ(gauge.value(), kTotal);
  EXPECT_EQ(hist.count(), static_cast<uint64_t>(kTotal));
  EXPECT_EQ(hist.sum(), kTotal / 2 * 0.5 + kTotal / 2 * 2);
  EXPECT_EQ(hist.snapshot().cumulative_counts, (std::vector<uint64_t>{400000, 800000}));
}

TEST(MetricsRegistry, RenderWhileUpdatingStaysConsistent) {
  MetricsRegistry reg(Process::kOmit);
  std::atomic<bool> done{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        // New children and families appear while render() runs.
        std::string worker = std::to_string(t * 100 + i % 50);
        reg.counter("ops_total", "o", {{"worker", worker}}).inc();
        reg.histogram("lat_seconds", "l", latency_buckets(), {{"worker", worker}}).observe(i * 1e-4);
        reg.gauge("fam_" + std::to_string(i % 20), "f").set(i);
      }
    });
  }
  int renders = 0;
  std::thread reader([&] {
    while (!done.load()) {
      std::map<std::string, double> samples;
      try {
        samples = parse_prometheus_text(reg.render());
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
        return;
      }
      for (const auto& [key, value] : samples) {
        // A histogram is read in one moment: its +Inf bucket always equals its count.
        size_t at = key.find("_count{");
        if (key.rfind("lat_seconds", 0) != 0 || at == std::string::npos) continue;
        std::string labels = key.substr(at + 7, key.size() - at - 8);
        ASSERT_EQ(samples.at("lat_seconds_bucket{le=\"+Inf\"," + labels + "}"), value) << key;
      }
      ++renders;
    }
  });
  for (auto& th : writers) th.join();
  done = true;
  reader.join();
  EXPECT_GT(renders, 0);
  auto samples = parse_prometheus_text(reg.render());
  double total = 0;
  for (const auto& [key, value] : samples)
    if (key.rfind("ops_total{", 0) == 0) total += value;
  EXPECT_EQ(total, 4 * 20000);
}

TEST(MetricsRegistry, ProcessMetricsArePresentAndPlausible) {
  MetricsRegistry reg;
  reg.counter("cutout_requests_total", "r").inc();
  const std::string text = reg.render();
  auto samples = parse_prometheus_text(text);
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_EQ(samples.at("cutout_requests_total"), 1);
  EXPECT_GT(samples.at("process_resident_memory_bytes"), 1e6);
  EXPECT_GE(samples.at("process_virtual_memory_bytes"), samples.at("process_resident_memory_bytes"));
  EXPECT_GE(samples.at("process_cpu_seconds_total"), 0);
  EXPECT_LE(samples.at("process_start_time_seconds"), now + 1);
  EXPECT_GT(samples.at("process_start_time_seconds"), now - 3600);
  EXPECT_GE(samples.at("process_open_fds"), 3);  // stdin, stdout, stderr
  EXPECT_GE(samples.at("process_max_fds"), samples.at("process_open_fds"));
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter\n"), std::string::npos);
  // Sorted with the other families: cutout_* before process_*.
  EXPECT_LT(text.find("cutout_requests_total"), text.find("process_"));
}

TEST(MetricsRegistry, ProcessStartTimeIsRecentAndStable) {
  const double start = process_start_time_seconds();
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_GT(start, now - 3600);
  EXPECT_LE(start, now + 1);
  EXPECT_EQ(process_start_time_seconds(), start);
  auto samples = parse_prometheus_text(MetricsRegistry().render());
  EXPECT_DOUBLE_EQ(samples.at("process_start_time_seconds"), start);
}

// Up to the default request timeout (120 s), so a slow p99 is not clipped at the last bucket.
TEST(MetricsRegistry, LatencyBucketsSpanOneMillisecondToTheRequestTimeout) {
  std::vector<double> b = latency_buckets();
  ASSERT_GE(b.size(), 8u);
  EXPECT_DOUBLE_EQ(b.front(), 0.001);
  EXPECT_DOUBLE_EQ(b.back(), ServeConfig{}.request_timeout_ms / 1000.0);
  for (size_t i = 1; i < b.size(); ++i) EXPECT_GT(b[i], b[i - 1]);
  EXPECT_NO_THROW(Histogram{b});
}

}  // namespace
}  // namespace cutout::server
