#include "server/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace cutout::server {

enum class MetricsRegistry::Kind { kCounter, kGauge, kHistogram, kGaugeCallback };

struct MetricsRegistry::Child {
  std::vector<std::string> label_values;  // in the family's label-name order; immutable
  std::unique_ptr<Counter> counter;
  std::unique_ptr<Gauge> gauge;
  std::unique_ptr<Histogram> histogram;
  // Replaceable, so guarded by the registry's mutex; shared so render() can call it unlocked.
  std::shared_ptr<const std::function<double()>> callback;
};

struct MetricsRegistry::Family {
  // All but the children are immutable after creation, so render() reads them without the lock.
  std::string name;
  std::string help;
  Kind kind;
  std::vector<std::string> label_names;  // in the order of the first call
  std::vector<double> buckets;           // histograms only
  std::map<std::vector<std::string>, Child*> by_values;
  std::vector<std::unique_ptr<Child>> children;  // creation order
};

namespace {

const char* type_name(int kind) {
  static const char* const kNames[] = {"counter", "gauge", "histogram", "gauge"};
  return kNames[kind];
}

bool is_metric_name(const std::string& s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool is_label_name(const std::string& s) {
  return is_metric_name(s) && s.find(':') == std::string::npos;
}

// The families render() adds itself; a user family of the same name would be a duplicate.
bool is_process_metric_name(const std::string& s) {
  static const char* const kNames[] = {"process_cpu_seconds_total",
                                       "process_resident_memory_bytes",
                                       "process_virtual_memory_bytes",
                                       "process_start_time_seconds",
                                       "process_open_fds",
                                       "process_max_fds"};
  return std::find(std::begin(kNames), std::end(kNames), s) != std::end(kNames);
}

void check_buckets(const std::vector<double>& upper_bounds) {
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    if (!std::isfinite(upper_bounds[i]) || (i > 0 && !(upper_bounds[i] > upper_bounds[i - 1])))
      throw std::invalid_argument("histogram buckets must be finite and strictly increasing");
  }
}

std::string escape(const std::string& s, bool quotes) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"' && quotes)
      out += "\\\"";
    else
      out += c;
  }
  return out;
}

// name{a="x",b="y"[,extra="v"]}; no braces when there are no labels at all.
void append_series(std::string& out, const std::string& name, const std::vector<std::string>& names,
                   const std::vector<std::string>& values, const char* extra_name = nullptr,
                   const std::string& extra_value = {}) {
  out += name;
  if (names.empty() && !extra_name) return;
  out += '{';
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += ',';
    out += names[i] + "=\"" + escape(values[i], true) + '"';
  }
  if (extra_name) {
    if (!names.empty()) out += ',';
    out += std::string(extra_name) + "=\"" + escape(extra_value, true) + '"';
  }
  out += '}';
}

void append_sample(std::string& out, double v) {
  out += ' ';
  out += format_sample_value(v);
  out += '\n';
}

std::string header(const std::string& name, const std::string& help, const char* type) {
  return "# HELP " + name + ' ' + escape(help, false) + "\n# TYPE " + name + ' ' + type + '\n';
}

struct ProcSelfStat {
  double cpu_seconds = 0;
  double virtual_bytes = 0;
  double resident_bytes = 0;
  double start_ticks = 0;  // clock ticks after boot
};

std::optional<ProcSelfStat> read_proc_self_stat() {
  std::ifstream in("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Field 2 (comm) is in parentheses and may itself contain spaces and ')': skip to the last ')'.
  size_t close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(close + 1));
  std::vector<std::string> f;  // f[0] is field 3 (state), so field n is f[n - 3]
  for (std::string t; fields >> t;) f.push_back(t);
  if (f.size() < 22) return std::nullopt;
  const double ticks_per_s = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page_bytes = static_cast<double>(sysconf(_SC_PAGESIZE));
  if (ticks_per_s <= 0 || page_bytes <= 0) return std::nullopt;
  try {
    ProcSelfStat s;
    s.cpu_seconds = (std::stod(f[14 - 3]) + std::stod(f[15 - 3])) / ticks_per_s;
    s.start_ticks = std::stod(f[22 - 3]);
    s.virtual_bytes = std::stod(f[23 - 3]);
    s.resident_bytes = std::stod(f[24 - 3]) * page_bytes;
    return s;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<double> read_boot_time_seconds() {
  std::ifstream in("/proc/stat");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("btime ", 0) == 0) {
      try {
        return std::stod(line.substr(6));
      } catch (const std::exception&) {
        return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

// /proc/stat's btime is truncated to whole seconds, which would make cold_start_ms wrong by up to a
// second. CLOCK_REALTIME - CLOCK_BOOTTIME is the same instant to the microsecond (and starttime is
// counted on CLOCK_BOOTTIME); it is trusted only when it agrees with btime, since sandboxes such as
// gVisor emulate these clocks and /proc separately.
double boot_time_seconds() {
  std::optional<double> btime = read_boot_time_seconds();
  timespec real{}, boot{};
  if (clock_gettime(CLOCK_REALTIME, &real) == 0 && clock_gettime(CLOCK_BOOTTIME, &boot) == 0) {
    double precise = static_cast<double>(real.tv_sec - boot.tv_sec) + (real.tv_nsec - boot.tv_nsec) * 1e-9;
    if (!btime || std::fabs(precise - *btime) < 2) return precise;
  }
  return btime.value_or(0);
}

std::optional<double> count_open_fds() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return std::nullopt;
  const int own_fd = dirfd(dir);  // listed too, but only open for the count itself
  double n = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    if (std::atoi(e->d_name) == own_fd) continue;
    ++n;
  }
  closedir(dir);
  return n;
}

// The process_* families, by name, as rendered text; those that cannot be read are left out.
void add_process_metrics(std::map<std::string, std::string>& chunks) {
  auto add = [&](const std::string& name, const char* type, const std::string& help, double v) {
    std::string text = header(name, help, type) + name;
    append_sample(text, v);
    chunks[name] = std::move(text);
  };
  if (std::optional<ProcSelfStat> s = read_proc_self_stat()) {
    add("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
        s->cpu_seconds);
    add("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", s->resident_bytes);
    add("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", s->virtual_bytes);
  }
  if (double start = process_start_time_seconds(); start > 0)
    add("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
        start);
  if (std::optional<double> fds = count_open_fds())
    add("process_open_fds", "gauge", "Number of open file descriptors.", *fds);
  if (rlimit lim{}; getrlimit(RLIMIT_NOFILE, &lim) == 0)
    add("process_max_fds", "gauge", "Maximum number of open file descriptors.",
        lim.rlim_cur == RLIM_INFINITY ? INFINITY : static_cast<double>(lim.rlim_cur));
}

}  // namespace

void Counter::inc(double v) {
  if (!(v >= 0)) throw std::invalid_argument("counter increment must be >= 0, got " + format_sample_value(v));
  value_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> upper_bounds) : upper_bounds_(std::move(upper_bounds)) {
  check_buckets(upper_bounds_);
  bucket_counts_.assign(upper_bounds_.size() + 1, 0);
}

void Histogram::observe(double v) {
  // First bound >= v, as "le" means less than or equal; NaN compares false everywhere, so it is sent
  // to +Inf explicitly.
  size_t i = std::isnan(v)
                 ? upper_bounds_.size()
                 : static_cast<size_t>(std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), v) -
                                       upper_bounds_.begin());
  std::lock_guard lock(mutex_);
  ++bucket_counts_[i];
  sum_ += v;
  ++count_;
}

uint64_t Histogram::count() const {
  std::lock_guard lock(mutex_);
  return count_;
}

double Histogram::sum() const {
  std::lock_guard lock(mutex_);
  return sum_;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.upper_bounds = upper_bounds_;
  {
    std::lock_guard lock(mutex_);
    s.cumulative_counts = bucket_counts_;
    s.sum = sum_;
    s.count = count_;
  }
  for (size_t i = 1; i < s.cumulative_counts.size(); ++i)
    s.cumulative_counts[i] += s.cumulative_counts[i - 1];
  return s;
}

MetricsRegistry::MetricsRegistry(ProcessMetrics process_metrics) : process_metrics_(process_metrics) {}

MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Family& MetricsRegistry::family_for(const std::string& name, const std::string& help,
                                                     Kind kind, const Labels& labels,
                                                     const std::vector<double>* buckets) {
  // Called with mutex_ held.
  std::vector<std::string> names;
  for (const auto& [label, value] : labels) {
    if (!is_label_name(label) || label.rfind("__", 0) == 0)
      throw std::invalid_argument("invalid label name '" + label + "' for metric '" + name + "'");
    if (kind == Kind::kHistogram && label == "le")
      throw std::invalid_argument("histogram '" + name + "' may not have a label 'le'");
    names.push_back(label);
  }
  std::vector<std::string> sorted_names = names;
  std::sort(sorted_names.begin(), sorted_names.end());
  if (std::adjacent_find(sorted_names.begin(), sorted_names.end()) != sorted_names.end())
    throw std::invalid_argument("duplicate label name for metric '" + name + "'");

  auto it = families_.find(name);
  if (it == families_.end()) {
    if (!is_metric_name(name)) throw std::invalid_argument("invalid metric name '" + name + "'");
    if (is_process_metric_name(name))
      throw std::invalid_argument("metric '" + name + "' is one of the process_* metrics the registry adds");
    if (buckets) check_buckets(*buckets);  // before the family exists, so a bad call leaves nothing
    auto family = std::make_unique<Family>();
    family->name = name;
    family->help = help;
    family->kind = kind;
    family->label_names = std::move(names);
    if (buckets) family->buckets = *buckets;
    it = families_.emplace(name, std::move(family)).first;
    return *it->second;
  }
  Family& family = *it->second;
  if (family.kind != kind)
    throw std::logic_error("metric '" + name + "' is already registered as another type (" +
                           type_name(static_cast<int>(family.kind)) + ")");
  std::vector<std::string> family_names = family.label_names;
  std::sort(family_names.begin(), family_names.end());
  if (family_names != sorted_names)
    throw std::logic_error("metric '" + name + "' is already registered with other label names");
  if (buckets && family.buckets != *buckets)
    throw std::logic_error("histogram '" + name + "' is already registered with other buckets");
  return family;
}

MetricsRegistry::Child& MetricsRegistry::child_for(Family& family, const Labels& labels) {
  // Called with mutex_ held; family_for has checked that labels has exactly the family's names.
  std::vector<std::string> values;
  for (const std::string& label : family.label_names) {
    auto it = std::find_if(labels.begin(), labels.end(), [&](const auto& l) { return l.first == label; });
    values.push_back(it->second);
  }
  if (auto it = family.by_values.find(values); it != family.by_values.end()) return *it->second;
  auto child = std::make_unique<Child>();
  child->label_values = values;
  switch (family.kind) {
    case Kind::kCounter:
      child->counter = std::make_unique<Counter>();
      break;
    case Kind::kGauge:
      child->gauge = std::make_unique<Gauge>();
      break;
    case Kind::kHistogram:
      child->histogram = std::make_unique<Histogram>(family.buckets);
      break;
    case Kind::kGaugeCallback:
      break;
  }
  Child& ref = *child;
  family.by_values.emplace(std::move(values), &ref);
  family.children.push_back(std::move(child));
  return ref;
}

Counter& MetricsRegistry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  return *child_for(family_for(name, help, Kind::kCounter, labels, nullptr), labels).counter;
}

Gauge& MetricsRegistry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  return *child_for(family_for(name, help, Kind::kGauge, labels, nullptr), labels).gauge;
}

Histogram& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                      std::vector<double> buckets, const Labels& labels) {
  std::lock_guard lock(mutex_);
  return *child_for(family_for(name, help, Kind::kHistogram, labels, &buckets), labels).histogram;
}

void MetricsRegistry::gauge_callback(const std::string& name, const std::string& help,
                                     std::function<double()> fn, const Labels& labels) {
  if (!fn) throw std::invalid_argument("gauge callback '" + name + "' is empty");
  auto shared = std::make_shared<const std::function<double()>>(std::move(fn));
  std::lock_guard lock(mutex_);
  child_for(family_for(name, help, Kind::kGaugeCallback, labels, nullptr), labels).callback =
      std::move(shared);
}

std::string MetricsRegistry::render() const {
  // Snapshot the child lists (and the callbacks, which can be replaced) under the lock, then render
  // without it so that callbacks may use the registry and updates are never blocked by a scrape.
  struct FamilyView {
    const Family* family;
    std::vector<std::pair<const Child*, std::shared_ptr<const std::function<double()>>>> children;
  };
  std::vector<FamilyView> views;
  {
    std::lock_guard lock(mutex_);
    views.reserve(families_.size());
    for (const auto& [name, family] : families_) {
      FamilyView& view = views.emplace_back(FamilyView{family.get(), {}});
      for (const auto& child : family->children) view.children.emplace_back(child.get(), child->callback);
    }
  }

  std::map<std::string, std::string> chunks;  // by family name, so process_* sort in among the others
  for (const FamilyView& view : views) {
    const Family& f = *view.family;
    std::string text = header(f.name, f.help, type_name(static_cast<int>(f.kind)));
    for (const auto& [child, callback] : view.children) {
      const std::vector<std::string>& values = child->label_values;
      switch (f.kind) {
        case Kind::kCounter:
          append_series(text, f.name, f.label_names, values);
          append_sample(text, child->counter->value());
          break;
        case Kind::kGauge:
          append_series(text, f.name, f.label_names, values);
          append_sample(text, child->gauge->value());
          break;
        case Kind::kGaugeCallback: {
          double v = NAN;
          try {
            v = (*callback)();
          } catch (...) {
            // A failing callback must not fail the whole scrape; NaN marks the sample as unknown.
          }
          append_series(text, f.name, f.label_names, values);
          append_sample(text, v);
          break;
        }
        case Kind::kHistogram: {
          Histogram::Snapshot s = child->histogram->snapshot();
          for (size_t i = 0; i <= s.upper_bounds.size(); ++i) {
            std::string le = i < s.upper_bounds.size() ? format_sample_value(s.upper_bounds[i]) : "+Inf";
            append_series(text, f.name + "_bucket", f.label_names, values, "le", le);
            append_sample(text, static_cast<double>(s.cumulative_counts[i]));
          }
          append_series(text, f.name + "_sum", f.label_names, values);
          append_sample(text, s.sum);
          append_series(text, f.name + "_count", f.label_names, values);
          append_sample(text, static_cast<double>(s.count));
          break;
        }
      }
    }
    chunks[f.name] = std::move(text);
  }
  if (process_metrics_ == ProcessMetrics::kInclude) add_process_metrics(chunks);

  std::string out;
  for (const auto& [name, text] : chunks) out += text;
  return out;
}

Counter& rejected_counter(MetricsRegistry& metrics, std::string_view reason) {
  return metrics.counter("cutout_rejected_total", "Requests refused, by reason",
                         {{"reason", std::string(reason)}});
}

std::vector<double> latency_buckets() {
  // Finer from 0.5 s to 5 s, where a process request's time lies, so quantiles are meaningful; up to
  // the default request timeout (120 s), so a slow p99 is not clipped at the last bucket.
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1,  1.25, 1.5,
          2,     2.5,    3,     4,    5,     7.5,  10,  15,   30,  60,   90, 120};
}

double process_start_time_seconds() {
  static const double start = [] {
    std::optional<ProcSelfStat> s = read_proc_self_stat();
    const double ticks_per_s = static_cast<double>(sysconf(_SC_CLK_TCK));
    double boot = boot_time_seconds();
    if (!s || ticks_per_s <= 0 || boot <= 0) return 0.0;
    return boot + s->start_ticks / ticks_per_s;
  }();
  return start;
}

std::string format_sample_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Exact integers print as integers (counts, bytes): to_chars would pick "1e+06" for 1000000.
  if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0) return std::to_string(static_cast<int64_t>(v));
  char buf[32];
  auto result = std::to_chars(buf, buf + sizeof buf, v);  // shortest form that reads back exactly
  return std::string(buf, result.ptr);
}

}  // namespace cutout::server
