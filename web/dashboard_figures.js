// The arithmetic of the ops dashboard (web/dashboard.js draws the page and polls): Prometheus text
// parsing, sums, histogram quantiles, snapshots and the 5-minute window, figures, cost per image,
// the alert states of the operations plan, formatting, and the plot ranges and time ticks.
//
// Pure functions (no DOM). In the browser they are the one global `CutoutFigures`; in Node the same
// object is `module.exports`, for the unit tests in tests/browser/dashboard_logic.test.cjs.
// No libraries and no inline code or styles: the page is served with a strict CSP.
(function () {
  'use strict';

  const PROCESS_ENDPOINT = '/api/v2/process';

  // The alert conditions of the operations plan. The thresholds are exclusive ("> 10 %").
  const THRESHOLDS = {
    coldStartRate: 0.10,
    warmP95Seconds: 10,
    gpuMemoryRatio: 0.90,
    errorRate: 0.01,
  };

  // ---------------------------------------------------------------------------------------------
  // Prometheus text format 0.0.4

  const METRIC_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{)?/;
  const LABEL_NAME = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"/;
  const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

  // A sample value: a float in Go's syntax, or +Inf, -Inf, NaN. Returns undefined when malformed.
  function parseValue(text) {
    if (text === '+Inf' || text === 'Inf') return Infinity;
    if (text === '-Inf') return -Infinity;
    if (text === 'NaN') return NaN;
    return FLOAT.test(text) ? Number(text) : undefined;
  }

  // Parses the `{...}` label block of `line` from `start` (just after the `{`).
  // Returns {labels, end} with `end` just after the `}`, or null when malformed.
  function parseLabels(line, start) {
    const labels = {};
    let i = start;
    for (;;) {
      while (line[i] === ' ' || line[i] === '\t' || line[i] === ',') i++;
      if (line[i] === '}') return { labels, end: i + 1 };
      const name = LABEL_NAME.exec(line.slice(i));
      if (!name) return null;
      i += name[0].length;
      // The value runs to the first unescaped quote; commas and braces inside it are text.
      let value = '';
      for (;;) {
        const c = line[i++];
        if (c === undefined) return null;
        if (c === '"') break;
        if (c === '\\') {
          const e = line[i++];
          value += e === 'n' ? '\n' : e === '\\' ? '\\' : e === '"' ? '"' : '\\' + (e ?? '');
        } else {
          value += c;
        }
      }
      labels[name[1]] = value;
    }
  }

  // Prometheus text → [{name, labels, value, timestamp}] (timestamp in ms, or null).
  // Comments (# HELP, # TYPE, anything after #) and blank lines are skipped, and so is a malformed
  // line, so that one odd line does not blank the dashboard.
  function parsePrometheus(text) {
    const samples = [];
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line === '' || line[0] === '#') continue;
      const head = METRIC_LINE.exec(line);
      if (!head) continue;
      let labels = {};
      let rest = line.slice(head[0].length);
      if (head[2]) {
        const block = parseLabels(line, head[0].length);
        if (!block) continue;
        labels = block.labels;
        rest = line.slice(block.end);
      }
      const fields = rest.trim().split(/\s+/);
      if (fields.length > 2) continue;
      const value = parseValue(fields[0]);
      if (value === undefined) continue;
      let timestamp = null;
      if (fields.length === 2) {
        if (!/^-?\d+$/.test(fields[1])) continue;
        timestamp = Number(fields[1]);
      }
      samples.push({ name: head[1], labels, value, timestamp });
    }
    return samples;
  }

  // Whether a sample's labels match `filter`: {label: "value" | (value) => boolean}.
  // A label the sample lacks reads as "" (as in PromQL).
  function labelsMatch(labels, filter) {
    for (const [key, want] of Object.entries(filter || {})) {
      const have = labels[key] ?? '';
      if (typeof want === 'function' ? !want(have) : have !== want) return false;
    }
    return true;
  }

  function matching(samples, name, filter) {
    return samples.filter((s) => s.name === name && labelsMatch(s.labels, filter));
  }

  // Sum of a family's samples that match `filter`; 0 when there are none, because cutout creates
  // a labelled counter on its first increment (no sample yet means nothing counted yet).
  function sumSamples(samples, name, filter) {
    return matching(samples, name, filter).reduce((sum, s) => sum + s.value, 0);
  }

  // The sum of a gauge's matching samples, or null when the gauge is absent (e.g. GPU metrics on a
  // CPU instance) or NaN (cutout_cold_start_seconds until the model is ready).
  function gaugeValue(samples, name, filter) {
    const found = matching(samples, name, filter);
    if (found.length === 0) return null;
    const sum = found.reduce((acc, s) => acc + s.value, 0);
    return Number.isFinite(sum) ? sum : null;
  }

  // The cumulative buckets of histogram `name` over the series matching `filter`, summed by bound:
  // [{le, count}] sorted by `le` (the last one +Inf when the histogram is complete).
  function histogramBuckets(samples, name, filter) {
    const byBound = new Map();
    for (const s of matching(samples, name + '_bucket', filter)) {
      const le = parseValue(s.labels.le ?? '');
      if (le === undefined || Number.isNaN(le)) continue;
      byBound.set(le, (byBound.get(le) || 0) + s.value);
    }
    return [...byBound.entries()].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
  }

  // The q-quantile (0..1) of cumulative buckets with Prometheus' histogram_quantile semantics: find
  // the bucket holding rank q·count and interpolate linearly inside it (the first bucket starts at
  // 0). Returns {seconds, overflow} or null when there are no observations; `overflow` means the
  // rank fell in the +Inf bucket, so the quantile is only known to exceed `seconds`, the largest
  // finite bound.
  function histogramQuantile(q, buckets) {
    if (buckets.length < 2 || buckets[buckets.length - 1].le !== Infinity) return null;
    // Like Prometheus, make the counts monotonic first: a scrape that does not read all buckets at
    // one instant can show a bucket trailing the one before it.
    const counts = [];
    for (const b of buckets) counts.push(Math.max(b.count, counts.length ? counts[counts.length - 1] : 0));
    const total = counts[counts.length - 1];
    if (!(total > 0)) return null;
    let rank = q * total;
    const i = counts.findIndex((c) => c >= rank);
    if (i === buckets.length - 1) return { seconds: buckets[i - 1].le, overflow: true };
    if (i === 0 && buckets[0].le <= 0) return { seconds: buckets[0].le, overflow: false };
    let start = 0;
    let inBucket = counts[i];
    if (i > 0) {
      start = buckets[i - 1].le;
      inBucket -= counts[i - 1];
      rank -= counts[i - 1];
    }
    return { seconds: start + (buckets[i].le - start) * (rank / inBucket), overflow: false };
  }

  // Cumulative buckets of `later` minus those of `earlier` (the observations between two scrapes).
  function bucketsDelta(later, earlier) {
    const before = new Map(earlier.map((b) => [b.le, b.count]));
    return later.map((b) => ({ le: b.le, count: b.count - (before.get(b.le) || 0) }));
  }

  // ---------------------------------------------------------------------------------------------
  // Scrapes → figures

  // What the dashboard keeps of one scrape: /metrics samples plus the /api/v2/status JSON (null
  // when it could not be read, e.g. 401 with an API key). Everything needed has a /metrics source,
  // so the page works without status; status adds the model name, provider and queue limit.
  function snapshotFromScrape(samples, status, nowMs) {
    const process = { endpoint: PROCESS_ENDPOINT };
    const statusNumber = (key) => (status && Number.isFinite(status[key]) ? status[key] : null);
    // cutout reports the model load and warm-up gauges as 0 until they are measured.
    const measured = (seconds) => (seconds !== null && seconds > 0 ? seconds : null);
    const startTime = gaugeValue(samples, 'process_start_time_seconds');
    const running = matching(samples, 'cutout_model_status').find((s) => s.value === 1);
    const coldStartMs = statusNumber('cold_start_ms'); // -1 until ready
    const gpuTotal = gaugeValue(samples, 'cutout_gpu_memory_total_bytes');
    const gpuUtil = matching(samples, 'cutout_gpu_utilization_ratio');
    const shareObjects = matching(samples, 'cutout_share_objects');
    return {
      t: nowMs,
      startTime,
      processTotal: sumSamples(samples, 'cutout_requests_total', process),
      // Server errors only: 4xx are the client's (bad input, 429 overload), not the service failing.
      processErrors: sumSamples(samples, 'cutout_requests_total', {
        endpoint: PROCESS_ENDPOINT,
        code: (code) => Number(code) >= 500,
      }),
      coldRequests: sumSamples(samples, 'cutout_cold_requests_total'),
      rejectedOverload: sumSamples(samples, 'cutout_rejected_total', { reason: 'queue_full' }),
      // Latency of successful process requests (refusals answer in microseconds and would pull
      // the quantiles down); the warm ones alone for the "warm p95" alert.
      buckets: histogramBuckets(samples, 'cutout_process_duration_seconds'),
      warmBuckets: histogramBuckets(samples, 'cutout_process_duration_seconds', { cold: 'false' }),
      durationSum: sumSamples(samples, 'cutout_process_duration_seconds_sum'),
      durationCount: sumSamples(samples, 'cutout_process_duration_seconds_count'),
      queueDepth: gaugeValue(samples, 'cutout_queue_depth') ?? statusNumber('queue_depth'),
      inFlight: gaugeValue(samples, 'cutout_in_flight') ?? statusNumber('in_flight'),
      residentBytes: gaugeValue(samples, 'process_resident_memory_bytes'),
      modelStatus: (status && status.model_status) || (running ? running.labels.status : null),
      coldStartSeconds:
        coldStartMs !== null && coldStartMs >= 0
          ? coldStartMs / 1000
          : gaugeValue(samples, 'cutout_cold_start_seconds'),
      modelLoadSeconds: measured(gaugeValue(samples, 'cutout_model_load_seconds')),
      warmupSeconds: measured(gaugeValue(samples, 'cutout_warmup_seconds')),
      pricePerHour: gaugeValue(samples, 'cutout_price_per_hour_usd') ?? statusNumber('price_per_hour'),
      // The server's own uptime when status answers; else from the start time and this clock.
      uptimeSeconds:
        statusNumber('uptime_s') ?? (startTime !== null ? Math.max(0, nowMs / 1000 - startTime) : null),
      gpu:
        gpuTotal !== null
          ? {
              usedBytes: gaugeValue(samples, 'cutout_gpu_memory_used_bytes'),
              totalBytes: gpuTotal,
              // Mean over the devices when there are several.
              utilization: gpuUtil.length ? gpuUtil.reduce((a, s) => a + s.value, 0) / gpuUtil.length : null,
            }
          : null,
      // Shared images, when the server has a share store (null: sharing is off).
      share: shareObjects.length
        ? {
            store: shareObjects[0].labels.store || null,
            objects: gaugeValue(samples, 'cutout_share_objects'),
            bytes: gaugeValue(samples, 'cutout_share_bytes'),
            errors: sumSamples(samples, 'cutout_share_store_errors_total'),
          }
        : null,
      queueLimit: statusNumber('queue_limit'),
      model: status ? status.model : null,
      provider: status ? status.provider : null,
      threads: statusNumber('threads'),
      version: status ? status.version : null,
    };
  }

  // Whether the counters went back between two snapshots: the server restarted, so deltas across
  // the two mean nothing.
  function isCounterReset(earlier, later) {
    if (earlier.startTime !== null && later.startTime !== null && earlier.startTime !== later.startTime) {
      return true;
    }
    return later.processTotal < earlier.processTotal || later.durationCount < earlier.durationCount;
  }

  // The snapshots to keep after `latest` arrives: those within `windowMs` of it, none from before
  // a restart.
  function addSnapshot(history, latest, windowMs) {
    const previous = history[history.length - 1];
    if (previous && isCounterReset(previous, latest)) return [latest];
    return history.concat([latest]).filter((s) => s.t >= latest.t - windowMs);
  }

  // The window the windowed figures use: from the oldest snapshot held (within the last 5 min) to
  // the latest. When it saw no process request (the page was just opened, or traffic stopped) the
  // figures fall back to the counters since the server started. Returns {latest, base, scope}:
  // base null means "since start".
  function selectWindow(history) {
    const latest = history[history.length - 1];
    const oldest = history[0];
    if (oldest !== latest && latest.processTotal - oldest.processTotal > 0) {
      return { latest, base: oldest, scope: 'last 5 min' };
    }
    return { latest, base: null, scope: 'since start' };
  }

  // The figures of a window (see selectWindow): ratios, rates and latency quantiles.
  function windowFigures({ latest, base, scope }) {
    const d = (key) => latest[key] - (base ? base[key] : 0);
    const requests = d('processTotal');
    const seconds = base ? (latest.t - base.t) / 1000 : latest.uptimeSeconds;
    const buckets = base ? bucketsDelta(latest.buckets, base.buckets) : latest.buckets;
    const warmBuckets = base ? bucketsDelta(latest.warmBuckets, base.warmBuckets) : latest.warmBuckets;
    const count = d('durationCount');
    return {
      scope,
      requests,
      // process requests per second over the window
      ratePerSecond: seconds > 0 ? requests / seconds : null,
      // cold requests / process requests
      coldStartRate: requests > 0 ? d('coldRequests') / requests : null,
      // process responses >= 500 / process requests
      errorRate: requests > 0 ? d('processErrors') / requests : null,
      rejectedOverload: d('rejectedOverload'),
      p50: histogramQuantile(0.5, buckets),
      p95: histogramQuantile(0.95, buckets),
      p99: histogramQuantile(0.99, buckets),
      warmP95: histogramQuantile(0.95, warmBuckets),
      meanSeconds: count > 0 ? d('durationSum') / count : null,
    };
  }

  // One point of the plots, from two consecutive snapshots: the request rate and p95 between them
  // (p95 null — a gap — when no request finished in between), and the gauges at `later`.
  function plotPoint(earlier, later) {
    const fresh = earlier && !isCounterReset(earlier, later);
    const seconds = fresh ? (later.t - earlier.t) / 1000 : 0;
    const p95 = fresh ? histogramQuantile(0.95, bucketsDelta(later.buckets, earlier.buckets)) : null;
    return {
      t: later.t,
      ratePerSecond: seconds > 0 ? (later.processTotal - earlier.processTotal) / seconds : null,
      p95Seconds: p95 ? p95.seconds : null,
      queueDepth: later.queueDepth,
      inFlight: later.inFlight,
      residentBytes: later.residentBytes,
    };
  }

  // Cost per image in USD from the configured instance price, or null when no price is set:
  // - whileServing: price/3600 × mean process request seconds, what an image costs while the
  //   instance is busy with it (the floor, at full utilisation);
  // - perUptime: price × uptime hours / process requests, what each image cost given how long the
  //   instance has been up (idle time included; null before the first request).
  function costPerImage(pricePerHour, meanSeconds, uptimeSeconds, processRequests) {
    if (!(pricePerHour > 0)) return null;
    const perUptime = processRequests > 0 && uptimeSeconds !== null;
    return {
      whileServing: meanSeconds !== null ? (pricePerHour / 3600) * meanSeconds : null,
      perUptime: perUptime ? (pricePerHour * uptimeSeconds) / 3600 / processRequests : null,
    };
  }

  // GPU memory used / total, or null without GPU metrics.
  function gpuMemoryRatio(gpu) {
    return gpu && gpu.usedBytes !== null && gpu.totalBytes > 0 ? gpu.usedBytes / gpu.totalBytes : null;
  }

  function alertState(value, threshold) {
    if (value === null || value === undefined) return 'no-data';
    return value > threshold ? 'firing' : 'ok';
  }

  // The four alert conditions as 'ok' | 'firing' | 'no-data'. "Warm p95" is the p95 of successful
  // process requests that did not wait for the model. A p95 in the +Inf bucket is only known to
  // exceed the last finite bound (60 s on cutout): that fires.
  function alertStates(figures, gpu) {
    const p95 = figures.warmP95 ? (figures.warmP95.overflow ? Infinity : figures.warmP95.seconds) : null;
    return {
      coldStartRate: alertState(figures.coldStartRate, THRESHOLDS.coldStartRate),
      warmP95: alertState(p95, THRESHOLDS.warmP95Seconds),
      gpuMemory: alertState(gpuMemoryRatio(gpu), THRESHOLDS.gpuMemoryRatio),
      errorRate: alertState(figures.errorRate, THRESHOLDS.errorRate),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Formatting

  const DASH = '—';

  // Up to 3 significant digits, without trailing zeros: 1.2345 → "1.23", 60 → "60", 0.5 → "0.5".
  function sig3(x) {
    return Math.abs(x) >= 1000 ? x.toFixed(0) : String(Number(x.toPrecision(3)));
  }

  function formatSeconds(seconds) {
    if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return DASH;
    return seconds < 1 ? `${sig3(seconds * 1000)} ms` : `${sig3(seconds)} s`;
  }

  // A quantile from histogramQuantile: "850 ms", "1.23 s", "> 60 s", or "—".
  function formatLatency(quantile) {
    if (!quantile) return DASH;
    return (quantile.overflow ? '> ' : '') + formatSeconds(quantile.seconds);
  }

  function formatPercent(ratio) {
    return ratio === null || ratio === undefined ? DASH : `${sig3(ratio * 100)} %`;
  }

  function formatBytes(bytes) {
    if (bytes === null || bytes === undefined) return DASH;
    const GiB = 1024 ** 3;
    if (bytes >= GiB) return `${(bytes / GiB).toFixed(2)} GiB`;
    if (bytes >= 1024 ** 2) return `${Math.round(bytes / 1024 ** 2)} MiB`;
    return bytes >= 1024 ? `${Math.round(bytes / 1024)} KiB` : `${bytes} B`;
  }

  function formatRate(perSecond) {
    if (perSecond === null || perSecond === undefined) return DASH;
    return `${sig3(perSecond)} /s · ${sig3(perSecond * 60)} /min`;
  }

  // Dollars to 3 significant digits, at least to the cent, no trailing zeros past the cents:
  // 0.000127 → "$0.000127", 0.0002 → "$0.0002", 0.35 → "$0.35", 5 → "$5.00".
  function formatUsd(usd) {
    if (usd === null || usd === undefined) return DASH;
    if (usd === 0) return '$0.00';
    const decimals = Math.min(12, Math.max(2, 2 - Math.floor(Math.log10(usd))));
    return '$' + usd.toFixed(decimals).replace(/(\.\d\d\d*?)0+$/, '$1');
  }

  // hh:mm:ss in local time.
  function formatClock(ms) {
    const d = new Date(ms);
    return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  }

  function formatUptime(seconds) {
    if (seconds === null || seconds === undefined) return DASH;
    const s = Math.floor(seconds);
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
    return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
  }

  // Ticks of a time axis from `fromMs` to `toMs` at a round step, at most about `maxTicks` of them.
  function timeTicks(fromMs, toMs, maxTicks) {
    const steps = [10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600].map((s) => s * 1000);
    const step = steps.find((s) => (toMs - fromMs) / s <= maxTicks) || steps[steps.length - 1];
    const ticks = [];
    for (let t = Math.ceil(fromMs / step) * step; t <= toMs; t += step) ticks.push(t);
    return { ticks, step };
  }

  // The smallest of 1, 2, 2.5, 5 × 10^k that is >= x (x > 0): a round top for an axis.
  function niceCeil(x) {
    const power = 10 ** Math.floor(Math.log10(x));
    return [1, 2, 2.5, 5, 10].map((m) => m * power).find((v) => v >= x * (1 - 1e-12));
  }

  // The y range of a plot: from 0 to a round top, or (fromZero false) the data's range padded by
  // 5 %, so that a near-constant figure such as memory still shows its movements.
  function plotRange(values, fromZero) {
    if (!values.length) return { lo: 0, hi: 1 };
    const min = Math.min(...values);
    const max = Math.max(...values);
    if (fromZero) return { lo: 0, hi: max > 0 ? niceCeil(max) : 1 };
    const pad = (max - min) * 0.05 || Math.abs(max) * 0.05 || 1;
    return { lo: min - pad, hi: max + pad };
  }

  const CutoutFigures = {
    parsePrometheus,
    parseValue,
    sumSamples,
    gaugeValue,
    histogramBuckets,
    histogramQuantile,
    bucketsDelta,
    snapshotFromScrape,
    isCounterReset,
    addSnapshot,
    selectWindow,
    windowFigures,
    plotPoint,
    costPerImage,
    gpuMemoryRatio,
    alertStates,
    DASH,
    sig3,
    formatSeconds,
    formatLatency,
    formatPercent,
    formatBytes,
    formatRate,
    formatUsd,
    formatClock,
    formatUptime,
    timeTicks,
    niceCeil,
    plotRange,
  };

  if (typeof module === 'object' && module.exports) {
    module.exports = CutoutFigures;
  } else {
    window.CutoutFigures = CutoutFigures;
  }
})();
