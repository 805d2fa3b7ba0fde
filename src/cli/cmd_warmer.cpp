// cutout warmer plan | replay | run | ping: predictive warming of a scale-to-zero service
// (SPEC §7, docs/OPERATIONS.md "Predictive warming"). The logic is in src/warmer/; this file reads
// options and files, prints, and runs the warming loop.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "core/error.h"
#include "server/http_server.h"
#include "server/log.h"
#include "warmer/export.h"
#include "warmer/predictor.h"
#include "warmer/traffic.h"

namespace cutout::cli {
namespace {

using namespace cutout::warmer;  // NOLINT: this file is the warmer's front end
using Json = nlohmann::json;

double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Options every warmer subcommand shares: where the traffic comes from, the platform, the model.
struct WarmerArgs {
  std::string counts, logs, zone;
  std::string lead = "5m", days, worth = "1800", idle_timeout = "900", cold_start = "2.3", service = "1.4";

  void add_to(CLI::App& cmd) {
    auto* c =
        cmd.add_option("--counts", counts, "traffic as counts: CSV `time,requests`, one row per minute");
    auto* l = cmd.add_option(
        "--logs", logs, "traffic as cutout's JSON request logs (stdout lines or a Cloud Logging export)");
    c->excludes(l);
    cmd.add_option("--tz", zone,
                   "time zone of the traffic's daily rhythm (IANA, e.g. Europe/Berlin; default UTC)");
    cmd.add_option("--lead", lead, "warm this long before an expected spike")->capture_default_str();
    cmd.add_option(
        "--days", days,
        "learn from this many days of traffic (default 7; replay: all the days before the evaluated ones)");
    cmd.add_option("--worth-s", worth, "idle instance-seconds one avoided cold start is worth")
        ->capture_default_str();
    cmd.add_option("--idle-timeout-s", idle_timeout, "the platform keeps an idle instance this long")
        ->capture_default_str();
    cmd.add_option("--cold-start-s", cold_start, "a cold start (cutout's measured exec -> ready)")
        ->capture_default_str();
    cmd.add_option("--service-s", service, "one request's time")->capture_default_str();
  }

  Traffic traffic(bool required) const {
    if (!counts.empty()) return load_traffic(counts);
    if (!logs.empty()) return load_traffic(logs);
    if (required) throw Error(ErrorCode::kInvalidArgument, "give the traffic: --counts FILE or --logs FILE");
    return {};
  }
  Platform platform() const {
    Platform p;
    p.idle_timeout_s = parse_duration_s(idle_timeout);
    p.cold_start_s = parse_duration_s(cold_start);
    p.service_s = parse_duration_s(service);
    if (p.idle_timeout_s < 120)
      throw Error(ErrorCode::kInvalidArgument, "--idle-timeout-s must be at least 120");
    return p;
  }
  PredictorOptions predictor(double default_days = 7) const {
    check_zone(zone);
    PredictorOptions o;
    o.zone = zone;
    o.lead_s = parse_duration_s(lead);
    o.history_days = default_days;
    if (!days.empty()) {
      char* end = nullptr;
      o.history_days = std::strtod(days.c_str(), &end);
      if (!end || *end) throw Error(ErrorCode::kInvalidArgument, "--days: a number of days, got " + days);
    }
    if (o.history_days < 1 || o.history_days > 90)
      throw Error(ErrorCode::kInvalidArgument, "--days: 1 to 90");
    o.worth_s = parse_duration_s(worth);
    return o;
  }
};

std::string local_text(double t, const std::string& zone) {
  const LocalTime lt = local_time(t, zone);
  static const char* kDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s %04d-%02d-%02d %02d:%02d %s", kDays[lt.weekday], lt.year, lt.month,
                lt.day, lt.hour, lt.minute, lt.zone_abbreviation.c_str());
  return buf;
}

// --- plan ---------------------------------------------------------------------------------------

struct PlanArgs {
  WarmerArgs w;
  std::string from;  // default: now
  std::string target = "https://SERVICE-URL", image = "REGION-docker.pkg.dev/PROJECT/cutout/cutout:TAG";
  std::string location = "REGION";
  bool json = false, cloud_scheduler = false, cronjob = false, with_api_key = false;
};

int run_plan(const PlanArgs& a) {
  const Traffic traffic = a.w.traffic(true);
  const PredictorOptions o = a.w.predictor();
  double from = now_s();
  if (!a.from.empty() && !parse_time(a.from, &from))
    throw Error(ErrorCode::kInvalidArgument, "--from: RFC 3339 or unix seconds");
  const double to = from + 7 * 86400;
  const WarmPlan plan = plan_warming(traffic.arrivals, from, to, a.w.platform(), o);
  const std::vector<CronEntry> cron = cron_entries(plan.pings, o.zone);
  const size_t learned = static_cast<size_t>(
      std::lower_bound(traffic.arrivals.begin(), traffic.arrivals.end(), from) -
      std::lower_bound(traffic.arrivals.begin(), traffic.arrivals.end(), from - o.history_days * 86400));
  if (a.cronjob) {
    std::fputs(kubernetes_cronjobs(cron, o.zone, a.target, a.image, a.with_api_key).c_str(), stdout);
    return kExitOk;
  }
  if (a.cloud_scheduler) {
    for (const std::string& c :
         cloud_scheduler_commands(cron, o.zone, a.target, a.with_api_key, a.location)) {
      std::printf("%s\n", c.c_str());
    }
    return kExitOk;
  }
  if (a.json) {
    Json j = {{"from", format_utc(from)},
              {"to", format_utc(to)},
              {"zone", o.zone.empty() ? "UTC" : o.zone},
              {"learned_requests", learned},
              {"history_days", o.history_days},
              {"lead_s", o.lead_s}};
    j["windows"] = Json::array();
    for (const WarmWindow& w : plan.windows) {
      j["windows"].push_back({{"start", format_utc(w.start)},
                              {"end", format_utc(w.end)},
                              {"start_local", local_text(w.start, o.zone)},
                              {"expected_cold_starts_avoided", w.expected_cold_starts},
                              {"expected_requests", w.expected_requests},
                              {"cost_s", w.cost_s}});
    }
    j["pings"] = Json::array();
    for (double p : plan.pings)
      j["pings"].push_back({{"utc", format_utc(p)}, {"local", local_text(p, o.zone)}});
    j["cron"] = Json::array();
    for (const CronEntry& c : cron) j["cron"].push_back({{"name", c.name}, {"schedule", c.schedule}});
    std::printf("%s\n", j.dump(2).c_str());
    return kExitOk;
  }
  std::printf("learned from %zu requests in the %g days before %s; zone %s\n", learned, o.history_days,
              format_utc(from).c_str(), o.zone.empty() ? "UTC" : o.zone.c_str());
  std::printf("%zu windows to keep warm (the expected spikes), %zu pings, %zu cron schedules\n\n",
              plan.windows.size(), plan.pings.size(), cron.size());
  for (const WarmWindow& w : plan.windows) {
    std::printf("  %s .. %s  (%s .. %s)  %.1f cold starts avoided, %.0f requests, %.0f s idle\n",
                local_text(w.start, o.zone).c_str(), local_text(w.end, o.zone).substr(15).c_str(),
                format_utc(w.start).c_str(), format_utc(w.end).substr(11).c_str(), w.expected_cold_starts,
                w.expected_requests, w.cost_s);
  }
  std::printf("\npings (POST /api/v2/warmup):\n");
  for (double p : plan.pings) std::printf("  %s  %s\n", format_utc(p).c_str(), local_text(p, o.zone).c_str());
  return kExitOk;
}

// --- replay -------------------------------------------------------------------------------------

struct ReplayArgs {
  WarmerArgs w;
  std::vector<std::string> policies;
  double eval_days = 7;
  std::string plot;
  // Idle time is billed under instance-based billing: the L4 instance of deploy/cloudrun/service-l4.yaml
  // (8 vCPU, 32 GiB, one L4) at Tier 1 prices (docs/OPERATIONS.md, "Cost").
  double price_per_hour = 1.42;
  bool json = false;
};

int run_replay(const ReplayArgs& a) {
  const Traffic traffic = a.w.traffic(true);
  if (traffic.arrivals.empty())
    throw Error(ErrorCode::kInvalidArgument, "the traffic has no process requests");
  const Platform platform = a.w.platform();
  const double eval_days = a.eval_days;
  // The evaluated span: the last eval_days whole UTC days; everything before trains.
  const double end = std::ceil(traffic.last() / 86400) * 86400;
  const double start = end - eval_days * 86400;
  if (start <= traffic.first() + 86400) {
    throw Error(ErrorCode::kInvalidArgument,
                "the traffic spans less than --eval-days plus a day of training");
  }
  // Every policy learns from the same days: all of those before the evaluated span, by default.
  const PredictorOptions o = a.w.predictor(std::min(90.0, std::floor((start - traffic.first()) / 86400)));
  std::vector<std::string> specs = a.policies;
  if (specs.empty())
    specs = {"none",      "fixed-ping:14m", "min-instances:1", "hybrid-histogram", "predictive-static",
             "predictive"};
  std::vector<ReplayResult> results;
  std::vector<PlotRow> rows;
  for (const std::string& spec : specs) {
    std::unique_ptr<Policy> policy = make_policy(spec, o);
    results.push_back(replay(traffic.arrivals, start, end, *policy, platform));
    PlotRow row{spec, results.back().cold_times, {}};
    if (auto* p = dynamic_cast<PredictivePolicy*>(policy.get())) {
      for (const WarmWindow& w : p->windows()) row.windows.emplace_back(w.start, w.end);
    }
    rows.push_back(std::move(row));
  }
  const ReplayResult* none = nullptr;
  for (const auto& r : results) {
    if (r.policy == "none") none = &r;
  }
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  if (!a.plot.empty()) {
    std::ofstream out(a.plot);
    out << replay_svg(traffic.arrivals, start, end, rows,
                      "cutout warmer replay: " + format_utc(start).substr(0, 10) + " .. " +
                          format_utc(end).substr(0, 10) + ", idle timeout " +
                          std::to_string(static_cast<int>(platform.idle_timeout_s)) + " s");
    if (!out) throw Error(ErrorCode::kIo, "cannot write " + a.plot);
  }
  if (a.json) {
    Json j = {{"eval_start", format_utc(start)},           {"eval_end", format_utc(end)},
              {"idle_timeout_s", platform.idle_timeout_s}, {"cold_start_s", platform.cold_start_s},
              {"price_per_hour", a.price_per_hour},        {"policies", Json::array()}};
    for (const auto& r : results) {
      j["policies"].push_back(
          {{"policy", r.policy},
           {"requests", r.requests},
           {"cold_starts", r.cold_starts},
           {"cold_fraction", r.cold_fraction()},
           {"pings", r.pings},
           {"instance_s", r.instance_s},
           {"busy_s", r.busy_s},
           {"idle_s", r.idle_s()},
           {"idle_cost_usd", r.idle_s() * a.price_per_hour / 3600},
           {"cold_vs_none",
            none ? ratio(static_cast<double>(r.cold_starts), static_cast<double>(none->cold_starts)) : 0},
           {"instance_s_vs_none", none ? ratio(r.instance_s, none->instance_s) : 0}});
    }
    std::printf("%s\n", j.dump(2).c_str());
    return kExitOk;
  }
  std::printf(
      "replay %s .. %s (%g days; trained on the %g days before), idle timeout %g s, cold start %g s\n\n",
      format_utc(start).c_str(), format_utc(end).c_str(), eval_days, (start - traffic.first()) / 86400,
      platform.idle_timeout_s, platform.cold_start_s);
  std::printf("%-18s %8s %6s %7s %6s %11s %8s %8s %10s %9s %9s\n", "policy", "requests", "cold", "cold %",
              "pings", "instance-h", "busy-h", "idle-h", "idle cost", "cold/none", "inst/none");
  for (const auto& r : results) {
    std::printf(
        "%-18s %8zu %6zu %6.2f%% %6zu %11.2f %8.2f %8.2f %9.2f$ %9.3f %9.3f\n", r.policy.c_str(), r.requests,
        r.cold_starts, 100 * r.cold_fraction(), r.pings, r.instance_s / 3600, r.busy_s / 3600,
        r.idle_s() / 3600, r.idle_s() * a.price_per_hour / 3600,
        none ? ratio(static_cast<double>(r.cold_starts), static_cast<double>(none->cold_starts)) : 0.0,
        none ? ratio(r.instance_s, none->instance_s) : 0.0);
  }
  return kExitOk;
}

// --- ping and run -------------------------------------------------------------------------------

struct PingArgs {
  std::string target, api_key, timeout = "60s";
  int retries = 3;
};

// One warm-up with retries and back-off (1 s, 2 s, 4 s ...). Returns the final status (0: none).
int send_warmup(const PingArgs& a, server::Logger& log, const Json& context) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (!a.api_key.empty()) headers.emplace_back("X-API-Key", a.api_key);
  const int timeout_ms = static_cast<int>(parse_duration_s(a.timeout) * 1000);
  std::string error;
  for (int attempt = 1; attempt <= a.retries + 1; ++attempt) {
    const auto t0 = std::chrono::steady_clock::now();
    auto answer = server::http_call("POST", a.target + "/api/v2/warmup", headers, timeout_ms, &error);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    Json fields = context;
    fields["attempt"] = attempt;
    fields["latency_ms"] = ms;
    if (answer && answer->status >= 200 && answer->status < 300) {
      fields["status"] = answer->status;
      log.info("warm-up sent", fields);
      return answer->status;
    }
    fields["status"] = answer ? answer->status : 0;
    fields["error"] = answer ? answer->body.substr(0, 200) : error;
    // 4xx other than 429 will not change with a retry (a wrong key, a wrong URL).
    const bool retry = !answer || answer->status == 429 || answer->status >= 500;
    log.warning(retry && attempt <= a.retries ? "warm-up failed, retrying" : "warm-up failed", fields);
    if (!retry || attempt > a.retries) return answer ? answer->status : 0;
    std::this_thread::sleep_for(std::chrono::seconds(1 << (attempt - 1)));
  }
  return 0;
}

std::atomic<bool> g_stop{false};
void on_signal(int) {
  g_stop = true;
}

struct RunArgs {
  WarmerArgs w;
  PingArgs ping;
  std::string metrics_url, relearn = "1h", scrape_interval = "60s";
};

// The process requests a server has answered so far, from its /metrics; -1 when unreadable.
double scrape_process_requests(const std::string& url) {
  std::string error;
  auto answer = server::http_call("GET", url, {}, 10'000, &error);
  if (!answer || answer->status != 200) return -1;
  double total = 0;
  size_t pos = 0;
  const std::string& b = answer->body;
  while (pos < b.size()) {
    size_t eol = b.find('\n', pos);
    if (eol == std::string::npos) eol = b.size();
    const std::string line = b.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.rfind("cutout_requests_total{", 0) == 0 &&
        line.find("endpoint=\"/api/v2/process\"") != std::string::npos) {
      total += std::strtod(line.substr(line.rfind(' ') + 1).c_str(), nullptr);
    }
  }
  return total;
}

int run_warmer(const RunArgs& a) {
  if (a.ping.target.empty()) throw Error(ErrorCode::kInvalidArgument, "--target URL is required");
  Traffic traffic = a.w.traffic(a.metrics_url.empty());
  std::vector<double> scraped;  // arrivals seen through --metrics-url, kept across re-reads of the file
  const Platform platform = a.w.platform();
  const PredictorOptions o = a.w.predictor();
  const double relearn_s = parse_duration_s(a.relearn), scrape_s = parse_duration_s(a.scrape_interval);
  server::Logger log(stdout);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  WarmPlan plan;
  std::unique_ptr<GapModel> gaps;  // with --metrics-url: keep-alives after the requests it sees
  std::vector<double> keep_alive;  // pending, sorted
  double next_learn = 0, next_scrape = 0, last_scraped = -1;
  size_t next_ping = 0;
  log.info("warmer started", {{"target", a.ping.target},
                              {"requests_known", traffic.arrivals.size()},
                              {"zone", o.zone.empty() ? "UTC" : o.zone},
                              {"lead_s", o.lead_s}});
  while (!g_stop) {
    const double now = now_s();
    if (!a.metrics_url.empty() && now >= next_scrape) {
      const double total = scrape_process_requests(a.metrics_url);
      if (total >= 0 && last_scraped >= 0) {
        const double added = total >= last_scraped ? total - last_scraped : total;  // a restart resets it
        for (int i = 0; i < static_cast<int>(added); ++i) {
          traffic.arrivals.push_back(now - scrape_s + scrape_s * (i + 0.5) / added);
          scraped.push_back(traffic.arrivals.back());
        }
        if (added > 0 && gaps) {  // new requests: keep the instance up as their time of week says
          keep_alive = gaps->keep_alive_pings(traffic.arrivals.back(), platform);
          if (!keep_alive.empty()) {
            log.info("keep-alive planned",
                     {{"pings", keep_alive.size()},
                      {"until", format_utc(keep_alive.back() + platform.idle_timeout_s)}});
          }
        }
      }
      if (total >= 0) last_scraped = total;
      next_scrape = now + scrape_s;
    }
    if (now >= next_learn) {
      if (next_learn > 0 && (!a.w.counts.empty() || !a.w.logs.empty())) {
        // The log or counts file may have grown (a log tail, a daily export): read it again. A
        // file that cannot be read now keeps the traffic known so far.
        try {
          traffic = a.w.traffic(false);
          traffic.arrivals.insert(traffic.arrivals.end(), scraped.begin(), scraped.end());
        } catch (const std::exception& e) {
          log.warning("cannot re-read the traffic; keeping what is known", {{"error", e.what()}});
        }
      }
      std::sort(traffic.arrivals.begin(), traffic.arrivals.end());
      plan = plan_warming(traffic.arrivals, now, now + 7 * 86400, platform, o);
      if (!a.metrics_url.empty())
        gaps = std::make_unique<GapModel>(traffic.arrivals, now - o.history_days * 86400, now, o);
      next_ping = 0;
      log.info("plan learned", {{"windows", plan.windows.size()},
                                {"pings", plan.pings.size()},
                                {"next_ping", plan.pings.empty() ? "" : format_utc(plan.pings.front())}});
      next_learn = now + relearn_s;
    }
    while (next_ping < plan.pings.size() && plan.pings[next_ping] < now - 60) {
      log.warning("planned warm-up missed", {{"planned", format_utc(plan.pings[next_ping])}});
      ++next_ping;
    }
    if (next_ping < plan.pings.size() && plan.pings[next_ping] <= now) {
      send_warmup(a.ping, log, {{"planned", format_utc(plan.pings[next_ping])}, {"kind", "window"}});
      ++next_ping;
      continue;
    }
    if (!keep_alive.empty() && keep_alive.front() <= now) {
      send_warmup(a.ping, log, {{"planned", format_utc(keep_alive.front())}, {"kind", "keep-alive"}});
      keep_alive.erase(keep_alive.begin());
      continue;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  log.info("warmer stopped", {});
  return kExitOk;
}

}  // namespace

void add_warmer_command(CLI::App& app, int& exit_status) {
  CLI::App* warmer = app.add_subcommand("warmer", "predictive warming: plan, replay, run, ping");
  warmer->require_subcommand(1);

  auto plan = std::make_shared<PlanArgs>();
  CLI::App* p =
      warmer->add_subcommand("plan", "the warm-up schedule for the next week, learned from traffic");
  plan->w.add_to(*p);
  p->add_option("--from", plan->from, "plan from this time (RFC 3339 or unix seconds; default now)");
  p->add_flag("--json", plan->json, "JSON: windows, pings (UTC and local), cron schedules");
  p->add_flag("--cloud-scheduler", plan->cloud_scheduler,
              "print `gcloud scheduler jobs create http` commands");
  p->add_flag("--cronjob", plan->cronjob, "print a Kubernetes List of CronJobs");
  p->add_option("--target", plan->target, "the service's URL, for --cloud-scheduler and --cronjob")
      ->capture_default_str();
  p->add_option("--image", plan->image, "cutout's image, for --cronjob")->capture_default_str();
  p->add_option("--location", plan->location, "Cloud Scheduler location, for --cloud-scheduler")
      ->capture_default_str();
  p->add_flag("--with-api-key", plan->with_api_key,
              "send X-API-Key (${CUTOUT_API_KEY}; a Secret for the CronJob)");
  set_command_run(*p, exit_status, "warmer plan", [plan] { return run_plan(*plan); });

  auto rep = std::make_shared<ReplayArgs>();
  CLI::App* r = warmer->add_subcommand(
      "replay", "simulate scale-to-zero on a trace: cold starts and instance time per policy");
  rep->w.add_to(*r);
  r->add_option(
      "--policy", rep->policies,
      "none, fixed-ping:EVERY, min-instances:1, hybrid-histogram, predictive (repeatable; default all, "
      "fixed-ping:14m; also predictive-static: the schedule alone)");
  r->add_option("--eval-days", rep->eval_days, "evaluate on the last days; the rest trains")
      ->check(CLI::Range(1, 365))
      ->capture_default_str();
  r->add_option("--price-per-hour", rep->price_per_hour,
                "instance price while idle, USD (instance-based billing; request-based bills no idle time)")
      ->capture_default_str();
  r->add_option("--plot", rep->plot, "write an SVG: traffic, predicted windows, cold starts per policy");
  r->add_flag("--json", rep->json, "JSON for scripts");
  set_command_run(*r, exit_status, "warmer replay", [rep] { return run_replay(*rep); });

  auto run = std::make_shared<RunArgs>();
  CLI::App* u =
      warmer->add_subcommand("run", "follow the plan: POST /api/v2/warmup before each expected spike");
  run->w.add_to(*u);
  u->add_option("--target", run->ping.target, "the service's URL, e.g. https://cutout-xyz.a.run.app")
      ->required();
  u->add_option("--api-key", run->ping.api_key, "sent as X-API-Key")->envname("CUTOUT_API_KEY");
  u->add_option("--metrics-url", run->metrics_url, "learn from the service's /metrics as it runs");
  u->add_option("--relearn", run->relearn, "learn the plan again this often")->capture_default_str();
  u->add_option("--scrape-interval", run->scrape_interval, "read --metrics-url this often")
      ->capture_default_str();
  u->add_option("--timeout", run->ping.timeout, "one warm-up's timeout")->capture_default_str();
  u->add_option("--retries", run->ping.retries, "retries of a failed warm-up (back-off 1 s, 2 s, 4 s ...)")
      ->check(CLI::Range(0, 10))
      ->capture_default_str();
  set_command_run(*u, exit_status, "warmer run", [run] { return run_warmer(*run); });

  auto ping = std::make_shared<PingArgs>();
  CLI::App* g =
      warmer->add_subcommand("ping", "one POST /api/v2/warmup with retries (the CronJob's command)");
  g->add_option("--target", ping->target, "the service's URL")->required();
  g->add_option("--api-key", ping->api_key, "sent as X-API-Key")->envname("CUTOUT_API_KEY");
  g->add_option("--timeout", ping->timeout, "timeout")->capture_default_str();
  g->add_option("--retries", ping->retries, "retries")->check(CLI::Range(0, 10))->capture_default_str();
  set_command_run(*g, exit_status, "warmer ping", [ping] {
    server::Logger log(stdout);
    const int status = send_warmup(*ping, log, Json::object());
    return status >= 200 && status < 300 ? kExitOk : kExitFailed;
  });
}

}  // namespace cutout::cli
