// cutout's predictive warmer: which stretches of the coming week to keep warm, learned from the
// last days of traffic, and the pings that do it.
//
// The model, per 10-minute bin of the local week (1008 bins, in the service's time zone, so DST
// does not shift office hours): replaying the history under scale-to-zero without warming, how many
// cold starts fell in that bin, and how much of it the instance was up anyway. Estimates pool the
// same bin of other weeks with the same time of day on days of the same kind (weekday or weekend),
// so a week of history already gives five samples for a weekday bin. A bin is kept warm when the
// cold starts it would avoid are worth its cost in idle instance-seconds:
//   expected cold starts × worth_s  >=  bin length × (1 - share already up)
// (worth_s: the instance-seconds one avoided cold start is worth paying). Neighbouring warm bins
// form windows; each window is entered with a ping `lead_s` before it and held with pings every
// idle_timeout - 60 s, the last one timed so that the window ends when the bin does.
//
// Pure functions over their arguments (local_time() sets TZ: one thread).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "warmer/replay.h"

namespace cutout::warmer {

struct PredictorOptions {
  std::string zone;         // IANA time zone of the traffic's daily rhythm; "" = UTC
  double history_days = 7;  // learn from this many days before the plan
  double lead_s = 300;      // ping this long before a window
  double bin_s = 600;       // 10-minute bins
  double worth_s = 900;     // instance-seconds one avoided cold start is worth
};

struct WarmWindow {
  double start = 0, end = 0;        // unix seconds
  double expected_cold_starts = 0;  // that keeping it warm avoids, per the model
  double expected_requests = 0;
  double cost_s = 0;  // expected extra instance-seconds
};

struct WarmPlan {
  std::vector<WarmWindow> windows;
  std::vector<double> pings;  // sorted
};

// Windows and pings for [from, to), learned from arrivals before `from` (the last history_days).
WarmPlan plan_warming(const std::vector<double>& arrivals, double from, double to, const Platform& platform,
                      const PredictorOptions& options);

// The idle times that followed requests, by time of the week: learned from [from, to), pooled like
// the bins above (the same bin of the week twice, the same time of day, +-20 minutes, on days of the
// same kind once). keep_alive_pings(t): after a request at t, the pings that keep the instance up
// past the platform's own timeout c to the horizon h (c + k steps of idle_timeout - 60 s, k <= 16,
// so at most 4 hours) that maximises  worth x #{g : c < g <= h} - sum over g > c of (min(g, h) - c)
// over the weighted gap samples g: cold starts avoided against idle seconds paid. It needs a watcher that
// sees requests (the replay, `warmer run --metrics-url`): a static schedule (Cloud Scheduler) gets the
// windows only.
class GapModel {
 public:
  GapModel(const std::vector<double>& arrivals, double from, double to, const PredictorOptions& options);
  std::vector<double> keep_alive_pings(double t, const Platform& platform) const;

 private:
  size_t week_bin(double t, size_t* day_bin, int* weekend) const;
  const PredictorOptions options_;
  size_t bins_per_day_;
  std::vector<std::vector<float>> week_;        // gaps (s) after requests in each bin of the week
  std::vector<std::vector<float>> daytype_[2];  // ... in each bin of a weekday / weekend day
  std::vector<float> all_long_;                 // every gap over a minute, any bin
  size_t all_count_ = 0;                        // every gap
};

// The predictive policy for replay: re-plans every day from what it has seen (the schedule), and
// extends the instance after requests (keep_alive_pings). The parts alone, for comparison:
// predictive-static (what Cloud Scheduler can run) and predictive-reactive.
class PredictivePolicy : public Policy {
 public:
  enum class Parts { kBoth, kStatic, kReactive };
  PredictivePolicy(PredictorOptions options, Parts parts = Parts::kBoth)
      : options_(std::move(options)), parts_(parts) {}
  std::string name() const override {
    return parts_ == Parts::kStatic     ? "predictive-static"
           : parts_ == Parts::kReactive ? "predictive-reactive"
                                        : "predictive";
  }
  void train(const std::vector<double>& history, const Platform& platform) override;
  void on_day(double day_start, const std::vector<double>& arrivals_so_far, PingQueue& pings) override;
  void on_request(double t, PingQueue& pings) override;
  const std::vector<WarmWindow>& windows() const { return windows_; }

 private:
  PredictorOptions options_;
  Parts parts_;
  Platform platform_;
  std::unique_ptr<GapModel> gaps_;   // re-learned every day
  std::vector<WarmWindow> windows_;  // every window planned so far, for plots
};

// The ATC 2020 hybrid histogram policy (Shahrad et al., "Serverless in the Wild"), adapted to a
// platform whose idle timeout is fixed: a histogram of idle times (1-minute bins up to 4 hours)
// learned from the history and updated with every request; after each request the instance is kept
// up from the histogram's 5th percentile (less 10 %) to its 99th (plus 10 %) with pings, when that
// window extends past the platform's own timeout. With too few idle times (< 10) or most of them
// beyond the histogram, it does nothing (the paper falls back to a fixed keep-alive there).
class HybridHistogramPolicy : public Policy {
 public:
  std::string name() const override { return "hybrid-histogram"; }
  void train(const std::vector<double>& history, const Platform& platform) override;
  void on_request(double t, PingQueue& pings) override;

 private:
  void add_idle_time(double gap_s);
  double percentile(double q) const;  // minutes; -1 when unrepresentative
  Platform platform_;
  std::vector<int> bins_ = std::vector<int>(240, 0);
  int in_range_ = 0, out_of_range_ = 0;
  double last_ = -1;
};

}  // namespace cutout::warmer
