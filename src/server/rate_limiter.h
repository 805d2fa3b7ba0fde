// A token bucket per key (the client address): `per_minute` requests a minute on average, bursts
// of up to `per_minute`. Buckets that have refilled are forgotten when the map grows large, so
// memory stays bounded under many addresses.
//
// Thread-safety: acquire() may be called from any thread.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace cutout::server {

class RateLimiter {
 public:
  explicit RateLimiter(double per_minute);  // 0: no limit

  // 0 when allowed (a token is taken); else the whole seconds until one is available.
  int acquire(const std::string& key);

 private:
  using Clock = std::chrono::steady_clock;
  struct Bucket {
    double tokens;
    Clock::time_point at;
  };
  void forget_full_buckets(Clock::time_point now);

  const double per_second_;
  const double burst_;
  std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace cutout::server
