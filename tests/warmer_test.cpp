// The warmer on traces made by hand, with the answers worked out by hand: input parsing, the
// replay's accounting, the plan on a known weekly pattern, time zones and DST, cron export.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "warmer/export.h"
#include "warmer/predictor.h"
#include "warmer/replay.h"
#include "warmer/traffic.h"

namespace cutout::warmer {
namespace {

constexpr double kMonday = 1793577600;  // 2026-11-02T00:00:00Z, a Monday
constexpr double kDay = 86400;

std::string error_of(const std::string& text) {
  try {
    parse_traffic(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Traffic, CountsAreSpreadOverTheirMinute) {
  double t = 0;
  ASSERT_TRUE(parse_time("2026-11-02T00:00:00Z", &t));
  EXPECT_EQ(t, kMonday);
  ASSERT_TRUE(parse_time("2026-11-02T01:00:00+01:00", &t));
  EXPECT_EQ(t, kMonday);
  ASSERT_TRUE(parse_time("1793577600", &t));
  EXPECT_EQ(format_utc(t), "2026-11-02T00:00:00Z");
  const Traffic tr = parse_counts_csv("time,requests\n2026-11-02T00:01:00Z,2\n1793577600,1\n\n");
  ASSERT_EQ(tr.arrivals.size(), 3u);
  EXPECT_DOUBLE_EQ(tr.arrivals[0], kMonday + 30);       // one request: mid-minute
  EXPECT_DOUBLE_EQ(tr.arrivals[1], kMonday + 60 + 15);  // two: at a quarter and three quarters
  EXPECT_DOUBLE_EQ(tr.arrivals[2], kMonday + 60 + 45);
  EXPECT_EQ(to_counts_csv(tr), "time,requests\n2026-11-02T00:00:00Z,1\n2026-11-02T00:01:00Z,2\n");
}

TEST(Traffic, BadInputNamesTheLine) {
  EXPECT_NE(error_of("").find("line 1"), std::string::npos);
  EXPECT_NE(error_of("time,requests\n2026-11-02T00:00:00Z,1\nyesterday,3\n").find("line 3"),
            std::string::npos);
  EXPECT_NE(error_of("time,requests\n2026-11-02T00:00:00Z,-1\n").find("line 2"), std::string::npos);
  EXPECT_NE(error_of("time,requests\n2026-11-02T00:00:00Z,1,2\n").find("line 2"), std::string::npos);
  EXPECT_NE(
      error_of("time,requests\n2026-11-02T00:00:10Z,1\n2026-11-02T00:00:50Z,1\n").find("also on line 2"),
      std::string::npos);
  EXPECT_NE(error_of("time,requests\n2026-11-02 00:00:00,1\n").find("line 2"), std::string::npos);  // no zone
  EXPECT_NE(error_of("{\"endpoint\":\"/api/v2/process\"}\n").find("line 1"), std::string::npos);    // no time
  EXPECT_NE(error_of("{\"severity\":\"INFO\"}\nnot json\n").find("line 2"), std::string::npos);
  EXPECT_NE(error_of("[{\"jsonPayload\":{\"endpoint\":\"/api/v2/process\"},\"timestamp\":\"soon\"}]")
                .find("entry 1"),
            std::string::npos);
}

TEST(Traffic, ServiceLogsAndCloudLoggingExports) {
  // stdout lines: only process requests count, each at its time less its latency.
  const std::string lines =
      R"({"severity":"INFO","message":"model ready","time":"2026-11-02T00:00:01Z","model_status":"ready"})"
      "\n"
      R"({"message":"POST /api/v2/process 200","time":"2026-11-02T00:00:10.5Z","endpoint":"/api/v2/process","httpRequest":{"latency":"1.5s","status":200}})"
      "\n"
      R"({"message":"GET /healthz 200","time":"2026-11-02T00:00:11Z","endpoint":"/healthz"})"
      "\n"
      R"({"message":"POST /api/v2/warmup 200","time":"2026-11-02T00:00:12Z","endpoint":"/api/v2/warmup"})"
      "\n";
  Traffic t = parse_traffic(lines);
  ASSERT_EQ(t.arrivals.size(), 1u);
  EXPECT_DOUBLE_EQ(t.arrivals[0], kMonday + 9);
  // A Cloud Logging export: a JSON array of LogEntry objects.
  const std::string exported =
      R"([{"jsonPayload":{"endpoint":"/api/v2/process"},"timestamp":"2026-11-02T00:01:00Z","httpRequest":{"latency":"0.5s"}},)"
      R"( {"jsonPayload":{"endpoint":"/readyz"},"timestamp":"2026-11-02T00:01:00Z"},)"
      R"( {"jsonPayload":{"endpoint":"/api/v2/process"},"timestamp":"2026-11-02T00:00:30Z"}])";
  t = parse_traffic(exported);
  ASSERT_EQ(t.arrivals.size(), 2u);
  EXPECT_DOUBLE_EQ(t.arrivals[0], kMonday + 30);
  EXPECT_DOUBLE_EQ(t.arrivals[1], kMonday + 59.5);
  EXPECT_TRUE(parse_traffic("time,requests\n").arrivals.empty());
}

// Found by fuzz/warmer_logs_fuzz.cpp: an endpoint that is not a string threw json's type_error out
// of the parser, which promises Error(kInvalidArgument). Such an entry is not a process request.
TEST(Traffic, EntriesWhoseEndpointIsNotAStringAreSkipped) {
  const std::string lines = R"({"time":"2026-11-02T00:00:10Z","endpoint":{"latency":"1.5s"}})"
                            "\n"
                            R"({"time":"2026-11-02T00:00:11Z","endpoint":7})"
                            "\n"
                            R"({"time":"2026-11-02T00:00:12Z","endpoint":"/api/v2/process"})"
                            "\n";
  Traffic t;
  ASSERT_NO_THROW(t = parse_request_logs(lines));
  ASSERT_EQ(t.arrivals.size(), 1u);
  EXPECT_DOUBLE_EQ(t.arrivals[0], kMonday + 12);
  ASSERT_NO_THROW(
      t = parse_request_logs(
          R"([{"jsonPayload":{"endpoint":["/api/v2/process"]},"timestamp":"2026-11-02T00:00:12Z"}])"));
  EXPECT_TRUE(t.arrivals.empty());
}

TEST(Traffic, Durations) {
  EXPECT_EQ(parse_duration_s("300"), 300);
  EXPECT_EQ(parse_duration_s("5m"), 300);
  EXPECT_EQ(parse_duration_s("1h30m"), 5400);
  EXPECT_EQ(parse_duration_s("2d"), 172800);
  for (const char* bad : {"", "5x", "m", "1h30"}) EXPECT_THROW(parse_duration_s(bad), Error) << bad;
}

// The replay's accounting on one instance: T = 900 s idle timeout, S = 2 s start, 1 s per request.
class ReplayAccounting : public ::testing::Test {
 protected:
  ReplayResult run(const std::vector<double>& offsets, const std::string& policy = "none",
                   const std::vector<double>& pings = {}) {
    std::vector<double> arrivals;
    for (double o : offsets) arrivals.push_back(kMonday + o);
    struct Fixed : Policy {
      std::vector<double> at;
      std::string name() const override { return "fixed"; }
      void on_day(double day, const std::vector<double>&, PingQueue& q) override {
        for (double p : at) {
          if (p >= day && p < day + kDay) q.add(p);
        }
      }
    } fixed;
    for (double p : pings) fixed.at.push_back(kMonday + p);
    std::unique_ptr<Policy> named = make_policy(policy, PredictorOptions{});
    Policy& chosen = pings.empty() ? *named : static_cast<Policy&>(fixed);
    return replay(arrivals, kMonday, kMonday + kDay, chosen, platform_);
  }
  Platform platform_{900, 2, 1};
};

TEST_F(ReplayAccounting, OneRequest) {
  const ReplayResult r = run({1000});
  EXPECT_EQ(r.requests, 1u);
  EXPECT_EQ(r.cold_starts, 1u);
  EXPECT_DOUBLE_EQ(r.instance_s, 2 + 1 + 900);  // start, serve, idle timeout
  EXPECT_DOUBLE_EQ(r.busy_s, 1);
}

TEST_F(ReplayAccounting, TwoRequestsInsideAndOutsideTheIdleWindow) {
  ReplayResult r = run({1000, 1500});  // 497 s after the first ended: still up
  EXPECT_EQ(r.cold_starts, 1u);
  EXPECT_DOUBLE_EQ(r.instance_s, 1500 + 1 + 900 - 1000);
  r = run({1000, 1000 + 903 + 1});  // the instance went down at 1903
  EXPECT_EQ(r.cold_starts, 2u);
  EXPECT_DOUBLE_EQ(r.instance_s, 2 * 903);
  r = run({1000, 1001});  // arrives while the first one's start is under way: waits too
  EXPECT_EQ(r.cold_starts, 2u);
}

TEST_F(ReplayAccounting, AWarmUpJustBeforeARequest) {
  const ReplayResult r = run({1000}, "none", {700});
  EXPECT_EQ(r.pings, 1u);
  EXPECT_EQ(r.cold_starts, 0u);
  EXPECT_DOUBLE_EQ(r.instance_s, 1000 + 1 + 900 - 700);
  const ReplayResult late = run({1000}, "none", {999});  // not ready in time: the request waits
  EXPECT_EQ(late.cold_starts, 1u);
}

TEST_F(ReplayAccounting, MinInstancesAndFixedPings) {
  ReplayResult r = run({1000, 50000}, "min-instances:1");
  EXPECT_EQ(r.cold_starts, 0u);
  EXPECT_DOUBLE_EQ(r.instance_s, kDay);
  r = run({1000, 50000}, "fixed-ping:14m");
  EXPECT_EQ(r.cold_starts, 0u);
  EXPECT_EQ(r.pings, static_cast<size_t>(std::ceil(kDay / 840)));
  EXPECT_THROW(make_policy("fixed-ping:10s", PredictorOptions{}), Error);
  EXPECT_THROW(make_policy("always", PredictorOptions{}), Error);
}

// Two weeks of a known pattern: on weekdays a burst at 09:00 local after a quiet night, nothing at
// weekends. The plan must warm just before 09:00 on weekdays and never at the weekend.
std::vector<double> weekday_mornings(double from_monday, int days, const std::string& zone) {
  std::vector<double> a;
  for (int d = 0; d < days; ++d) {
    const double day = from_monday + d * kDay;
    if (d % 7 >= 5) continue;
    // 09:00 local: the UTC offset of that day (DST aware).
    const double offset = static_cast<double>(local_time(day + 12 * 3600, zone).utc_offset_s);
    for (int i = 0; i < 10; ++i) a.push_back(day + 9 * 3600 - offset + 60 + i * 30);
  }
  return a;
}

TEST(Plan, WarmsBeforeTheWeekdayMorningsAndNeverAtTheWeekend) {
  PredictorOptions o;
  o.zone = "Europe/Berlin";
  o.history_days = 14;
  const std::vector<double> a = weekday_mornings(kMonday, 14, o.zone);
  const double from = kMonday + 14 * kDay;
  const WarmPlan plan = plan_warming(a, from, from + 7 * kDay, Platform{}, o);
  ASSERT_EQ(plan.windows.size(), 5u);
  for (const WarmWindow& w : plan.windows) {
    const LocalTime lt = local_time(w.start, o.zone);
    EXPECT_LT(lt.weekday, 5);
    EXPECT_EQ(lt.hour, 9);
    EXPECT_EQ(lt.minute, 0);
    EXPECT_GT(w.expected_cold_starts, 0.9);
  }
  // One ping per window, the lead before it: 08:55 local, 07:55 UTC in November (CET).
  ASSERT_EQ(plan.pings.size(), 5u);
  EXPECT_EQ(format_utc(plan.pings[0]).substr(11), "07:55:00Z");
  const std::vector<CronEntry> cron = cron_entries(plan.pings, o.zone);
  ASSERT_EQ(cron.size(), 1u);
  EXPECT_EQ(cron[0].schedule, "55 8 * * 1,2,3,4,5");
  EXPECT_EQ(cron[0].name, "cutout-warm-0855");
  // Nothing learned from nothing.
  EXPECT_TRUE(plan_warming({}, from, from + 7 * kDay, Platform{}, o).windows.empty());
}

TEST(Plan, LocalMorningsSurviveDst) {
  // New York leaves DST on 2026-11-01: 09:00 EDT is 13:00 UTC, 09:00 EST 14:00 UTC. Two weeks of
  // history in EDT and EST, a plan for the week after: its windows stay at 09:00 local.
  PredictorOptions o;
  o.zone = "America/New_York";
  o.history_days = 14;
  const double monday = kMonday - 14 * kDay;  // 2026-10-19
  const std::vector<double> a = weekday_mornings(monday, 14, o.zone);
  const WarmPlan plan = plan_warming(a, kMonday, kMonday + 7 * kDay, Platform{}, o);
  ASSERT_FALSE(plan.windows.empty());
  for (const WarmWindow& w : plan.windows) {
    EXPECT_EQ(local_time(w.start, o.zone).hour, 9);
    EXPECT_EQ(format_utc(w.start).substr(11, 5), "14:00");
  }
  EXPECT_THROW(check_zone("Mars/Olympus_Mons"), Error);
  EXPECT_NO_THROW(check_zone("UTC"));
}

TEST(Replay, PredictiveBeatsNoneOnTheMorningsAtALittleCost) {
  Platform p;
  PredictorOptions o;
  o.zone = "Europe/Berlin";
  const std::vector<double> a = weekday_mornings(kMonday, 21, o.zone);
  auto none = make_policy("none", o), ours = make_policy("predictive", o);
  const ReplayResult rn = replay(a, kMonday + 14 * kDay, kMonday + 21 * kDay, *none, p);
  const ReplayResult rp = replay(a, kMonday + 14 * kDay, kMonday + 21 * kDay, *ours, p);
  EXPECT_EQ(rn.cold_starts, 5u);
  EXPECT_EQ(rp.cold_starts, 0u);
  EXPECT_LT(rp.instance_s, rn.instance_s + 5 * (o.lead_s + 2 * p.cold_start_s + 600));
}

TEST(Export, CloudSchedulerAndCronJobs) {
  const std::vector<CronEntry> cron = {{"cutout-warm-0855", "55 8 * * 1,2,3,4,5", 8, 55, {1, 2, 3, 4, 5}}};
  const auto cmds =
      cloud_scheduler_commands(cron, "Europe/Berlin", "https://x.run.app", true, "europe-west1");
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_NE(cmds[0].find("gcloud scheduler jobs create http cutout-warm-0855"), std::string::npos);
  EXPECT_NE(cmds[0].find("--schedule=\"55 8 * * 1,2,3,4,5\""), std::string::npos);
  EXPECT_NE(cmds[0].find("--time-zone=\"Europe/Berlin\""), std::string::npos);
  EXPECT_NE(cmds[0].find("--uri=\"https://x.run.app/api/v2/warmup\""), std::string::npos);
  EXPECT_NE(cmds[0].find("${CUTOUT_API_KEY}"), std::string::npos);
  const std::string yaml = kubernetes_cronjobs(cron, "Europe/Berlin", "https://x.run.app", "cutout:1", false);
  EXPECT_NE(yaml.find("schedule: \"55 8 * * 1,2,3,4,5\""), std::string::npos);
  EXPECT_NE(yaml.find("timeZone: \"Europe/Berlin\""), std::string::npos);
}

}  // namespace
}  // namespace cutout::warmer
