#include "warmer/predictor.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace cutout::warmer {
namespace {

// What one kind of bin looked like in the history: how many times it occurred, and in all those
// occurrences together the cold starts (without warming), the seconds the instance was up anyway,
// and the requests.
struct BinStats {
  double occurrences = 0, cold = 0, up_s = 0, requests = 0;
  void add(const BinStats& o) {
    occurrences += o.occurrences;
    cold += o.cold;
    up_s += o.up_s;
    requests += o.requests;
  }
};

constexpr int kMaxSteps = 16;
constexpr double kPriorSamples = 20;  // keep-alive up to 4 hours past the platform's timeout (ATC's range)

double overlap(double a0, double a1, double b0, double b1) {
  return std::max(0.0, std::min(a1, b1) - std::max(a0, b0));
}

class Model {
 public:
  Model(const PredictorOptions& o) : o_(o), bins_per_day_(static_cast<int>(std::lround(86400 / o.bin_s))) {
    week_.assign(static_cast<size_t>(7 * bins_per_day_), {});
    for (auto& d : daytype_) d.assign(static_cast<size_t>(bins_per_day_), {});
  }

  void learn(const std::vector<double>& arrivals, double from, double to, const Platform& platform) {
    const std::unique_ptr<Policy> none = make_policy("none", o_);
    const ReplayResult base = replay(arrivals, from, to, *none, platform);
    auto cold = base.cold_times.begin();
    auto req = std::lower_bound(arrivals.begin(), arrivals.end(), from);
    auto up = base.up_intervals.begin();
    for (double s = std::floor(from / o_.bin_s) * o_.bin_s; s < to; s += o_.bin_s) {
      const double e = s + o_.bin_s;
      if (s < from) continue;  // a partial first bin would read as quiet
      BinStats b;
      b.occurrences = 1;
      for (; cold != base.cold_times.end() && *cold < e; ++cold) b.cold += 1;
      for (; req != arrivals.end() && *req < e; ++req) b.requests += 1;
      while (up != base.up_intervals.end() && up->second <= s) ++up;
      for (auto u = up; u != base.up_intervals.end() && u->first < e; ++u)
        b.up_s += overlap(s, e, u->first, u->second);
      const auto [week_bin, day_bin, weekend] = bin_of(s);
      week_[week_bin].add(b);
      daytype_[weekend][day_bin].add(b);
    }
  }

  // The pooled estimate for a future bin: the same bin of the week counts twice, the same time of
  // day on days of the same kind once.
  BinStats estimate(double bin_start) const {
    const auto [week_bin, day_bin, weekend] = bin_of(bin_start);
    const BinStats& w = week_[week_bin];
    const BinStats& d = daytype_[weekend][day_bin];
    BinStats e;
    const double n = 2 * w.occurrences + d.occurrences;
    if (n == 0) return e;
    e.occurrences = 1;
    e.cold = (2 * w.cold + d.cold) / n;
    e.up_s = (2 * w.up_s + d.up_s) / n;
    e.requests = (2 * w.requests + d.requests) / n;
    return e;
  }

 private:
  struct Bin {
    size_t week, day;
    int weekend;
  };
  Bin bin_of(double t) const {
    const LocalTime lt = local_time(t, o_.zone);
    const auto day_bin = static_cast<size_t>(lt.minute_of_day * 60 / static_cast<int>(o_.bin_s));
    return {static_cast<size_t>(lt.weekday) * static_cast<size_t>(bins_per_day_) + day_bin, day_bin,
            lt.weekday >= 5 ? 1 : 0};
  }

  const PredictorOptions& o_;
  const int bins_per_day_;
  std::vector<BinStats> week_;
  std::array<std::vector<BinStats>, 2> daytype_;
};

void add_window_pings(const WarmWindow& w, const Platform& platform, const PredictorOptions& o,
                      std::vector<double>& pings) {
  const double T = platform.idle_timeout_s, step = T - 60;
  const double first = w.start - o.lead_s;
  pings.push_back(first);
  double p = first + step;
  for (; p < w.end - T; p += step) pings.push_back(p);
  // The last ping holds the instance exactly to the window's end.
  if (w.end - T > first) pings.push_back(w.end - T);
}

}  // namespace

WarmPlan plan_warming(const std::vector<double>& arrivals, double from, double to, const Platform& platform,
                      const PredictorOptions& options) {
  WarmPlan plan;
  Model model(options);
  model.learn(arrivals, from - options.history_days * 86400, from, platform);

  // Bins worth keeping warm, merged into windows (a one-bin gap is bridged).
  std::vector<WarmWindow> raw;
  for (double s = std::floor(from / options.bin_s) * options.bin_s; s < to; s += options.bin_s) {
    const BinStats e = model.estimate(s);
    const double cost = std::max(0.0, options.bin_s - e.up_s);
    if (e.cold <= 0 || e.cold * options.worth_s < cost) continue;
    if (!raw.empty() && s - raw.back().end <= options.bin_s) {
      const BinStats gap = model.estimate(raw.back().end);
      if (s > raw.back().end) raw.back().cost_s += std::max(0.0, options.bin_s - gap.up_s);
      raw.back().end = s + options.bin_s;
    } else {
      raw.push_back({s, s + options.bin_s, 0, 0, 0});
    }
    raw.back().expected_cold_starts += e.cold;
    raw.back().expected_requests += e.requests;
    raw.back().cost_s += cost;
  }
  // A window is entered early (the lead, and the start-up) and that time is idle: keep it only if
  // what it avoids is still worth its whole cost.
  for (WarmWindow& w : raw) {
    w.cost_s += options.lead_s;
    if (w.expected_cold_starts * options.worth_s < w.cost_s) continue;
    plan.windows.push_back(w);
    add_window_pings(w, platform, options, plan.pings);
  }
  std::sort(plan.pings.begin(), plan.pings.end());
  plan.pings.erase(std::unique(plan.pings.begin(), plan.pings.end()), plan.pings.end());
  return plan;
}

GapModel::GapModel(const std::vector<double>& arrivals, double from, double to,
                   const PredictorOptions& options)
    : options_(options), bins_per_day_(static_cast<size_t>(std::lround(86400 / options.bin_s))) {
  week_.resize(7 * bins_per_day_);
  for (auto& d : daytype_) d.resize(bins_per_day_);
  const auto first = std::lower_bound(arrivals.begin(), arrivals.end(), from);
  const auto last = std::lower_bound(arrivals.begin(), arrivals.end(), to);
  for (auto it = first; it != last; ++it) {
    // The last request's gap is unknown beyond `to`: it counts as at least that long.
    const double gap =
        (it + 1 != arrivals.end() && *(it + 1) < to) ? *(it + 1) - *it : std::max(to - *it, 86400.0);
    size_t day_bin = 0;
    int weekend = 0;
    const size_t w = week_bin(*it, &day_bin, &weekend);
    week_[w].push_back(static_cast<float>(gap));
    daytype_[weekend][day_bin].push_back(static_cast<float>(gap));
    // The long gaps of the whole history, the prior that sparse bins lean on.
    if (gap > 60) all_long_.push_back(static_cast<float>(gap));
    ++all_count_;
  }
}

size_t GapModel::week_bin(double t, size_t* day_bin, int* weekend) const {
  const LocalTime lt = local_time(t, options_.zone);
  *day_bin = static_cast<size_t>(lt.minute_of_day * 60 / static_cast<int>(options_.bin_s));
  *weekend = lt.weekday >= 5 ? 1 : 0;
  return static_cast<size_t>(lt.weekday) * bins_per_day_ + *day_bin;
}

std::vector<double> GapModel::keep_alive_pings(double t, const Platform& platform) const {
  size_t day_bin = 0;
  int weekend = 0;
  const size_t w = week_bin(t, &day_bin, &weekend);
  // Weighted gap samples: the same bin of the week twice, the day type's neighbouring bins once.
  std::vector<std::pair<float, float>> samples;  // (gap, weight)
  for (float g : week_[w]) samples.emplace_back(g, 2.0f);
  for (int d = -2; d <= 2; ++d) {
    const auto b = static_cast<size_t>((static_cast<long>(day_bin) + d + static_cast<long>(bins_per_day_)) %
                                       static_cast<long>(bins_per_day_));
    for (float g : daytype_[weekend][b]) samples.emplace_back(g, 1.0f);
  }
  // Shrinkage: the whole history's gaps, worth kPriorSamples samples in all, so that a bin seen a
  // few times leans on the overall idle-time distribution (the hybrid histogram's view) and a bin
  // seen often speaks for itself.
  if (all_count_ > 0) {
    const auto w_prior = static_cast<float>(kPriorSamples / static_cast<double>(all_count_));
    for (float g : all_long_) samples.emplace_back(g, w_prior);
  }
  std::vector<double> pings;
  const double T = platform.idle_timeout_s, step = T - 60;
  const double covered = platform.service_s + T;  // the platform's own keep-alive after this request
  // Of the gaps longer than what the platform covers anyway, how many a keep-alive to `covered + k
  // steps` would catch, and what it costs in idle seconds; the best horizon by
  // caught x worth - extra wins, looking ahead (gaps may cluster beyond the first step).
  double survivors = 0;
  for (const auto& [g, wt] : samples) {
    if (g > covered) survivors += wt;
  }
  if (survivors < 0.5) return pings;  // nothing outlives the platform's own timeout here
  int best_k = 0;
  double best_gain = 0;
  for (int k = 1; k <= kMaxSteps; ++k) {
    const double horizon = covered + k * step;
    double caught = 0, extra = 0;
    for (const auto& [g, wt] : samples) {
      if (g <= covered) continue;
      if (g <= horizon) caught += wt;
      extra += wt * (std::min<double>(g, horizon) - covered);
    }
    const double gain = caught * options_.worth_s - extra;
    if (gain > best_gain) {
      best_gain = gain;
      best_k = k;
    }
  }
  // Each ping, sent while the instance is still up, holds it one step longer.
  for (int k = 0; k < best_k; ++k) pings.push_back(t + covered + k * step - 60);
  return pings;
}

void PredictivePolicy::train(const std::vector<double>&, const Platform& platform) {
  platform_ = platform;
}

void PredictivePolicy::on_day(double day_start, const std::vector<double>& arrivals_so_far,
                              PingQueue& pings) {
  if (parts_ != Parts::kReactive) {
    const WarmPlan plan = plan_warming(arrivals_so_far, day_start, day_start + 86400, platform_, options_);
    for (double p : plan.pings) pings.add(p);
    windows_.insert(windows_.end(), plan.windows.begin(), plan.windows.end());
  }
  if (parts_ != Parts::kStatic) {
    gaps_ = std::make_unique<GapModel>(arrivals_so_far, day_start - options_.history_days * 86400, day_start,
                                       options_);
  }
}

void PredictivePolicy::on_request(double t, PingQueue& pings) {
  if (!gaps_) return;
  pings.cancel_reactive();
  for (double p : gaps_->keep_alive_pings(t, platform_)) pings.add_reactive(p);
}

void HybridHistogramPolicy::train(const std::vector<double>& history, const Platform& platform) {
  platform_ = platform;
  for (double t : history) {
    if (last_ >= 0) add_idle_time(t - last_);
    last_ = t;
  }
}

void HybridHistogramPolicy::add_idle_time(double gap_s) {
  const auto minute = static_cast<size_t>(std::max(0.0, gap_s) / 60);
  if (minute < bins_.size()) {
    ++bins_[minute];
    ++in_range_;
  } else {
    ++out_of_range_;
  }
}

double HybridHistogramPolicy::percentile(double q) const {
  if (in_range_ < 10 || out_of_range_ > in_range_) return -1;
  const double want = q * in_range_;
  double seen = 0;
  for (size_t i = 0; i < bins_.size(); ++i) {
    seen += bins_[i];
    if (seen >= want) return static_cast<double>(i) + (q > 0.5 ? 1 : 0);  // p5: a bin's start, p99: its end
  }
  return static_cast<double>(bins_.size());
}

void HybridHistogramPolicy::on_request(double t, PingQueue& pings) {
  if (last_ >= 0) add_idle_time(t - last_);
  last_ = t;
  pings.cancel_reactive();
  const double p5 = percentile(0.05), p99 = percentile(0.99);
  if (p5 < 0) return;
  const double T = platform_.idle_timeout_s, step = T - 60;
  const double prewarm = t + p5 * 60 * 0.9, keep_until = t + p99 * 60 * 1.1;
  const double up_until = t + platform_.service_s + T;  // the platform keeps it this long anyway
  if (keep_until <= up_until) return;
  // Pre-warm at the 5th percentile if the instance will be gone by then, else extend it.
  double q = prewarm > up_until ? prewarm - platform_.cold_start_s : up_until - 60;
  pings.add_reactive(q);
  while (q + T < keep_until) {
    q += step;
    pings.add_reactive(q);
  }
}

}  // namespace cutout::warmer
