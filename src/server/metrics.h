// A small Prometheus metrics registry rendering the text exposition format 0.0.4.
//
// Thread-safety: Counter, Gauge and Histogram updates (inc/dec/set/observe) and reads may be called
// concurrently from any number of threads; counters and gauges are lock-free atomics, a histogram
// takes its own short lock so that a scrape sees its buckets, sum and count from one moment.
// MetricsRegistry's methods may all be called concurrently, render() included: family and child
// creation is serialised by the registry's mutex, and render() holds it only to take a snapshot.
//
// Lifetime: the references returned by the registry stay valid for the registry's lifetime (children
// are never removed). Gauge callbacks are called by render() without the registry's lock held, on the
// scraping thread, so they may read metrics or even create them, but whatever they capture must
// outlive the registry (or the callback must be replaced before it dies).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cutout::server {

using Labels = std::vector<std::pair<std::string, std::string>>;

// A monotonically increasing value.
class Counter {
 public:
  // Throws std::invalid_argument for a negative or NaN increment: a counter that goes down breaks
  // Prometheus' rate(), so such a call is a bug at the call site.
  void inc(double v = 1);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A value that goes up and down.
class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void inc(double v = 1) { value_.fetch_add(v, std::memory_order_relaxed); }
  void dec(double v = 1) { value_.fetch_sub(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into buckets by upper bound ("le": value <= bound), plus their sum and count.
class Histogram {
 public:
  // upper_bounds: finite, strictly increasing (std::invalid_argument otherwise); the +Inf bucket is
  // implicit.
  explicit Histogram(std::vector<double> upper_bounds);

  // NaN lands in the +Inf bucket only and makes the sum NaN, as in the Go client.
  void observe(double v);
  uint64_t count() const;
  double sum() const;

  struct Snapshot {
    std::vector<double> upper_bounds;         // without +Inf
    std::vector<uint64_t> cumulative_counts;  // one per upper bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  // The buckets, sum and count from one moment.
  Snapshot snapshot() const;
  const std::vector<double>& upper_bounds() const { return upper_bounds_; }

 private:
  const std::vector<double> upper_bounds_;
  mutable std::mutex mutex_;
  std::vector<uint64_t> bucket_counts_;  // not cumulative; the last one is the +Inf bucket
  double sum_ = 0;
  uint64_t count_ = 0;
};

class MetricsRegistry {
 public:
  // Whether render() appends the standard process_* metrics (tests of exact output omit them).
  enum class ProcessMetrics { kInclude, kOmit };

  explicit MetricsRegistry(ProcessMetrics process_metrics = ProcessMetrics::kInclude);
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // A family is created on first use (name, help, type); each distinct label set is a child. Asking
  // again with the same name and labels (in any order) returns the same object; the help text of the
  // first call is kept. A name reused with another type or other label names (or, for histograms,
  // other buckets) throws std::logic_error. Invalid metric or label names, duplicate label names,
  // the label "le" on a histogram, and the names of the process_* metrics throw
  // std::invalid_argument (a std::logic_error too).
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help, std::vector<double> buckets,
                       const Labels& labels = {});
  // A gauge whose value is computed by fn at scrape time. Registering the same name and labels again
  // replaces the function. If fn throws, the sample is rendered as NaN rather than failing the scrape.
  void gauge_callback(const std::string& name, const std::string& help, std::function<double()> fn,
                      const Labels& labels = {});

  // Every family sorted by name (the process_* ones included), children in creation order, with
  // HELP and TYPE lines; histograms as cumulative _bucket{le="..."} lines ending with +Inf, then _sum
  // and _count. Ends with a newline.
  std::string render() const;

 private:
  enum class Kind;
  struct Family;
  struct Child;
  Family& family_for(const std::string& name, const std::string& help, Kind kind, const Labels& labels,
                     const std::vector<double>* buckets);
  Child& child_for(Family& family, const Labels& labels);

  const ProcessMetrics process_metrics_;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Family>> families_;
};

// Default latency buckets in seconds, for requests from 1 ms to 120 s (the default request timeout).
std::vector<double> latency_buckets();

// cutout_rejected_total{reason}: requests refused, the one family the service, the process route
// and sharing all count into (reasons: api_error.h's table, and share_rate_limited).
Counter& rejected_counter(MetricsRegistry& metrics, std::string_view reason);

// The process start time in seconds since the epoch, from /proc/self/stat's starttime (clock ticks
// since boot) and the boot time; 0 if /proc cannot be read. Computed once, then cached.
double process_start_time_seconds();

// A sample value as Prometheus parses it: integers below 2^53 without exponent or fraction, others
// in the shortest form that round-trips, and "+Inf", "-Inf", "NaN".
std::string format_sample_value(double v);

}  // namespace cutout::server
