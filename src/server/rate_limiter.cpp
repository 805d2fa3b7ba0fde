#include "server/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace cutout::server {
namespace {
constexpr size_t kMaxBuckets = 100'000;
}

RateLimiter::RateLimiter(double per_minute)
    : per_second_(per_minute / 60.0), burst_(std::max(1.0, per_minute)) {}

int RateLimiter::acquire(const std::string& key) {
  if (per_second_ <= 0) return 0;
  const auto now = Clock::now();
  std::lock_guard lock(mutex_);
  if (buckets_.size() >= kMaxBuckets) forget_full_buckets(now);
  auto [it, fresh] = buckets_.try_emplace(key, Bucket{burst_, now});
  Bucket& b = it->second;
  if (!fresh) {
    b.tokens = std::min(burst_, b.tokens + per_second_ * std::chrono::duration<double>(now - b.at).count());
    b.at = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return 0;
  }
  return std::max(1, static_cast<int>(std::ceil((1.0 - b.tokens) / per_second_)));
}

void RateLimiter::forget_full_buckets(Clock::time_point now) {
  std::erase_if(buckets_, [&](const auto& entry) {
    const Bucket& b = entry.second;
    return b.tokens + per_second_ * std::chrono::duration<double>(now - b.at).count() >= burst_;
  });
}

}  // namespace cutout::server
