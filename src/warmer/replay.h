// A scale-to-zero platform simulated on a traffic trace, and the warming policies it compares.
//
// The platform (Cloud Run's model): one instance; it stays up idle_timeout_s after its last
// activity (a request's end or a warm-up ping). A request that finds no instance starts one and
// waits cold_start_s: a cold start (as does one that arrives while the instance is still starting).
// A ping that finds no instance starts one too, which no user waits for. Instance-seconds count
// from a start to the scale-down (clipped to the evaluated span); busy seconds are service_s per
// request, the rest is idle.
//
// Policies see the past only: train() gets the traffic before the evaluated span, and
// on_request()/on_day() what happened since, so a replay never peeks. Not thread-safe; a policy
// object is used by one replay at a time.
#pragma once

#include <memory>
#include <queue>
#include <string>
#include <vector>

#include "warmer/traffic.h"

namespace cutout::warmer {

struct Platform {
  double idle_timeout_s = 900;  // Cloud Run keeps an idle instance about 15 minutes
  double cold_start_s = 2.3;    // cutout's exec -> ready on 2 vCPU (docs/PERFORMANCE.md)
  double service_s = 1.4;       // one 1024x1024 request with four effects
};

// Where a policy puts its warm-up pings. Pings may be added for any future time; a policy that
// reacts to requests replaces its earlier reactive pings with cancel_reactive().
class PingQueue {
 public:
  void add(double t) { static_.push(t); }
  void add_reactive(double t) { reactive_.push_back(t); }
  void cancel_reactive() { reactive_.clear(); }
  // The earliest pending ping, or +inf.
  double next() const;
  void pop_next();

 private:
  std::priority_queue<double, std::vector<double>, std::greater<>> static_;
  std::vector<double> reactive_;  // few at a time
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual std::string name() const = 0;
  virtual bool always_up() const { return false; }  // min-instances:1
  // The traffic before the evaluated span.
  virtual void train(const std::vector<double>& /*history*/, const Platform& /*platform*/) {}
  // Called at each day start of the evaluated span (UTC midnight) with all arrivals so far.
  virtual void on_day(double /*day_start*/, const std::vector<double>& /*arrivals_so_far*/,
                      PingQueue& /*pings*/) {}
  // Called for each request, after the platform handled it.
  virtual void on_request(double /*t*/, PingQueue& /*pings*/) {}
};

struct ReplayResult {
  std::string policy;
  size_t requests = 0;
  size_t cold_starts = 0;
  size_t pings = 0;
  double instance_s = 0;
  double busy_s = 0;
  double idle_s() const { return instance_s - busy_s; }
  double cold_fraction() const {
    return requests ? static_cast<double>(cold_starts) / static_cast<double>(requests) : 0;
  }
  std::vector<double> cold_times;                       // when each cold start happened
  std::vector<std::pair<double, double>> up_intervals;  // [start, end) of each instance life
  std::vector<double> ping_times;
};

// Replays arrivals in [eval_start, eval_end) under the policy; history (arrivals before eval_start)
// trains it. The instance is down at eval_start.
ReplayResult replay(const std::vector<double>& arrivals, double eval_start, double eval_end, Policy& policy,
                    const Platform& platform);

struct PredictorOptions;
// "none", "fixed-ping:EVERY" (e.g. fixed-ping:14m), "min-instances:1", "hybrid-histogram",
// "predictive" (with these options); throws Error(kInvalidArgument) listing them.
std::unique_ptr<Policy> make_policy(const std::string& spec, const PredictorOptions& predictive);

}  // namespace cutout::warmer
