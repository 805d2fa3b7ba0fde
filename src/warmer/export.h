// The warm-up plan as other tools take it: Cloud Scheduler jobs, a Kubernetes CronJob list, and an
// SVG picture of a replay (traffic, predicted windows, cold starts per policy).
//
// Cron has minute resolution and repeats weekly: pings are grouped by their local time of day in
// the plan's zone, each group one job whose day-of-week field lists the days it fires, and the
// scheduler's own time zone (Cloud Scheduler --time-zone, CronJob spec.timeZone) keeps it right
// across DST. Pure functions (local_time() sets TZ: one thread).
#pragma once

#include <string>
#include <vector>

#include "warmer/predictor.h"

namespace cutout::warmer {

struct CronEntry {
  std::string name;      // cutout-warm-0815
  std::string schedule;  // "15 8 * * 1,2,3,4,5"
  int hour = 0, minute = 0;
  std::vector<int> weekdays;  // cron's: 0 = Sunday ... 6 = Saturday
};

// One entry per distinct local HH:MM of the pings.
std::vector<CronEntry> cron_entries(const std::vector<double>& pings, const std::string& zone);

// `gcloud scheduler jobs create http ...` lines, one per entry. The API key, when wanted, is
// referenced as ${CUTOUT_API_KEY} (the shell fills it in; the plan never holds a secret).
std::vector<std::string> cloud_scheduler_commands(const std::vector<CronEntry>& entries,
                                                  const std::string& zone, const std::string& target_url,
                                                  bool with_api_key, const std::string& location);

// A Kubernetes `List` of batch/v1 CronJobs running `cutout warmer ping --target URL` from `image`.
std::string kubernetes_cronjobs(const std::vector<CronEntry>& entries, const std::string& zone,
                                const std::string& target_url, const std::string& image, bool with_api_key);

struct PlotRow {
  std::string label;
  std::vector<double> cold_times;
  std::vector<std::pair<double, double>> windows;  // shaded spans (the predicted ones)
};
// Requests per hour as bars, with one row of cold-start ticks per policy, over [from, to).
std::string replay_svg(const std::vector<double>& arrivals, double from, double to,
                       const std::vector<PlotRow>& rows, const std::string& title);

}  // namespace cutout::warmer
