#include "warmer/replay.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "warmer/predictor.h"

namespace cutout::warmer {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

class NonePolicy : public Policy {
 public:
  std::string name() const override { return "none"; }
};

class MinInstancesPolicy : public Policy {
 public:
  std::string name() const override { return "min-instances:1"; }
  bool always_up() const override { return true; }
};

// A ping every `every_s`, all day, from the first evaluated day on.
class FixedPingPolicy : public Policy {
 public:
  FixedPingPolicy(double every_s, std::string spec) : every_s_(every_s), spec_(std::move(spec)) {}
  std::string name() const override { return spec_; }
  void on_day(double day_start, const std::vector<double>&, PingQueue& pings) override {
    if (phase_ < 0) phase_ = day_start;
    const double first = phase_ + std::ceil((day_start - phase_) / every_s_) * every_s_;
    for (double t = first; t < day_start + 86400; t += every_s_) pings.add(t);
  }

 private:
  double every_s_;
  std::string spec_;
  double phase_ = -1;
};

}  // namespace

double PingQueue::next() const {
  double t = static_.empty() ? kInf : static_.top();
  for (double r : reactive_) t = std::min(t, r);
  return t;
}

void PingQueue::pop_next() {
  const auto it = std::min_element(reactive_.begin(), reactive_.end());
  if (it != reactive_.end() && (static_.empty() || *it < static_.top())) {
    reactive_.erase(it);
  } else if (!static_.empty()) {
    static_.pop();
  }
}

ReplayResult replay(const std::vector<double>& arrivals, double eval_start, double eval_end, Policy& policy,
                    const Platform& platform) {
  ReplayResult r;
  r.policy = policy.name();
  const auto first = std::lower_bound(arrivals.begin(), arrivals.end(), eval_start);
  const auto last = std::lower_bound(arrivals.begin(), arrivals.end(), eval_end);
  std::vector<double> seen(arrivals.begin(), first);
  policy.train(seen, platform);
  if (policy.always_up()) {
    r.requests = static_cast<size_t>(last - first);
    r.busy_s = static_cast<double>(r.requests) * platform.service_s;
    r.instance_s = eval_end - eval_start;
    r.up_intervals = {{eval_start, eval_end}};
    return r;
  }
  const double T = platform.idle_timeout_s, S = platform.cold_start_s;
  PingQueue pings;
  bool up = false;
  double start = 0, ready = 0, up_end = -kInf, now = eval_start, next_day = eval_start;
  auto scale_down_before = [&](double t) {
    if (up && t > up_end) {
      const double end = std::min(up_end, eval_end);
      r.instance_s += end - start;
      r.up_intervals.emplace_back(start, end);
      up = false;
    }
  };
  for (auto it = first;;) {
    const double next_request = it != last ? *it : kInf;
    const double next_ping = pings.next();
    const double t = std::max(now, std::min({next_request, next_ping, next_day}));
    if (t >= eval_end) break;
    now = t;
    if (next_day <= next_request && next_day <= next_ping) {  // a new day: the policy plans
      policy.on_day(next_day, seen, pings);
      next_day += 86400;
      continue;
    }
    scale_down_before(t);
    if (next_ping <= next_request) {
      pings.pop_next();
      ++r.pings;
      r.ping_times.push_back(t);
      if (!up) {
        up = true;
        start = t;
        ready = t + S;
        up_end = ready + T;
      } else {
        up_end = std::max(up_end, std::max(t, ready) + T);
      }
      continue;
    }
    ++it;
    ++r.requests;
    r.busy_s += platform.service_s;
    if (!up) {
      up = true;
      start = t;
      ready = t + S;
    }
    if (t < ready) {  // started by this request, or still starting: the user waits
      ++r.cold_starts;
      r.cold_times.push_back(t);
    }
    up_end = std::max(up_end, std::max(t, ready) + platform.service_s + T);
    seen.push_back(t);
    policy.on_request(t, pings);
  }
  scale_down_before(kInf);
  return r;
}

std::unique_ptr<Policy> make_policy(const std::string& spec, const PredictorOptions& predictive) {
  if (spec == "none") return std::make_unique<NonePolicy>();
  if (spec == "min-instances:1") return std::make_unique<MinInstancesPolicy>();
  if (spec == "hybrid-histogram") return std::make_unique<HybridHistogramPolicy>();
  if (spec == "predictive") return std::make_unique<PredictivePolicy>(predictive);
  if (spec == "predictive-static") {
    return std::make_unique<PredictivePolicy>(predictive, PredictivePolicy::Parts::kStatic);
  }
  if (spec == "predictive-reactive") {
    return std::make_unique<PredictivePolicy>(predictive, PredictivePolicy::Parts::kReactive);
  }
  if (spec.rfind("fixed-ping:", 0) == 0) {
    const double every = parse_duration_s(spec.substr(11));
    if (every < 60)
      throw Error(ErrorCode::kInvalidArgument, "fixed-ping wants an interval of a minute or more");
    return std::make_unique<FixedPingPolicy>(every, spec);
  }
  throw Error(ErrorCode::kInvalidArgument,
              "unknown policy '" + spec +
                  "' (allowed: none, fixed-ping:EVERY e.g. fixed-ping:14m, "
                  "min-instances:1, hybrid-histogram, predictive, predictive-static, predictive-reactive)");
}

}  // namespace cutout::warmer
