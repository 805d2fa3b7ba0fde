// The ops dashboard of cutout serve (GET /dashboard).
//
// Polls GET /metrics (Prometheus text 0.0.4) and GET /api/v2/status every `interval` ms (default
// 5000; `?interval=1000` overrides it) and shows the figures of SPEC §5 and §7: model status,
// cold start, request and error rates, latency quantiles, queue, memory, GPU, cost per image, the
// four alert conditions of the operations plan, and plots of the last hour this page has seen.
//
// The first half is pure functions (no DOM), exported for the Node unit tests in
// tests/browser/dashboard_logic.test.cjs; the second half draws the page and polls.
// No libraries and no inline code or styles: the page is served with a strict CSP.
(function () {
  'use strict';

  const PROCESS_ENDPOINT = '/api/v2/process';
  const WINDOW_MS = 5 * 60 * 1000; // windowed figures: the last 5 minutes of scrapes
  const PLOT_SPAN_MS = 60 * 60 * 1000; // plots: the last hour of scrapes
  const DEFAULT_INTERVAL_MS = 5000;

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
    return bytes >= GiB ? `${(bytes / GiB).toFixed(2)} GiB` : `${Math.round(bytes / 1024 ** 2)} MiB`;
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

  // ---------------------------------------------------------------------------------------------
  // The page

  const SVG_NS = 'http://www.w3.org/2000/svg';
  const STATE_TEXT = { ok: 'OK', firing: 'FIRING', 'no-data': 'NO DATA' };

  // The plots. spec: {title, series: [{key, label, className}], format(value), axisFormat(value,
  // lo, hi) (default: format), fromZero}; the keys are those of plotPoint.
  const PLOTS = {
    'plot-request-rate': {
      title: 'Request rate (process requests per second)',
      series: [{ key: 'ratePerSecond', label: 'rate', className: 's1' }],
      format: (v) => `${sig3(v)} /s`,
      fromZero: true,
    },
    'plot-latency': {
      title: 'p95 latency of process requests between scrapes',
      series: [{ key: 'p95Seconds', label: 'p95', className: 's1' }],
      format: formatSeconds,
      fromZero: true,
    },
    'plot-queue': {
      title: 'Queue depth and in flight',
      series: [
        { key: 'queueDepth', label: 'queue', className: 's1' },
        { key: 'inFlight', label: 'in flight', className: 's2' },
      ],
      format: (v) => sig3(v),
      fromZero: true,
    },
    'plot-memory': {
      title: 'Resident memory',
      series: [{ key: 'residentBytes', label: 'memory', className: 's1' }],
      format: formatBytes,
      // From 0, so a change of a few MiB on 1.3 GiB does not look like a leak; MiB on the axis.
      axisFormat: (v, lo, hi) => {
        const range = (hi - lo) / 1024 ** 2;
        return `${(v / 1024 ** 2).toFixed(range < 2 ? 2 : range < 20 ? 1 : 0)} MiB`;
      },
      fromZero: true,
    },
  };

  function svgElement(name, attributes, text) {
    const el = document.createElementNS(SVG_NS, name);
    for (const [key, value] of Object.entries(attributes)) el.setAttribute(key, String(value));
    if (text !== undefined) el.textContent = text;
    return el;
  }

  // Draws one plot into the <svg> of `figure`, at the figure's width: a polyline per series
  // (broken where a value is null; a lone value is a dot), the y range labelled at bottom and top,
  // a time axis with round ticks, and an aria-label (and caption) that says it in words.
  function drawPlot(figure, spec, points, nowMs) {
    const svg = figure.querySelector('svg');
    const width = Math.max(240, Math.round(figure.querySelector('figcaption').clientWidth));
    const height = 170;
    const margin = { left: 76, right: 28, top: 12, bottom: 24 }; // y labels; half a time label
    const plotW = width - margin.left - margin.right;
    const plotH = height - margin.top - margin.bottom;
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    svg.setAttribute('width', width);
    svg.setAttribute('height', height);
    svg.replaceChildren();

    const first = Math.max(nowMs - PLOT_SPAN_MS, points.length ? points[0].t : nowMs);
    const span = Math.max(nowMs - first, 60 * 1000); // at least a minute wide
    const shown = points.filter((p) => p.t >= nowMs - span);
    const values = shown.flatMap((p) => spec.series.map((s) => p[s.key])).filter((v) => v !== null);
    const { lo, hi } = plotRange(values, spec.fromZero);
    const x = (t) => margin.left + ((t - (nowMs - span)) / span) * plotW;
    const y = (v) => margin.top + plotH - ((v - lo) / (hi - lo)) * plotH;
    const right = width - margin.right;
    const add = (name, attributes, text) => svg.appendChild(svgElement(name, attributes, text));

    add('line', { class: 'axis', x1: margin.left, x2: right, y1: y(lo), y2: y(lo) });
    add('line', { class: 'grid', x1: margin.left, x2: right, y1: y(hi), y2: y(hi) });
    const axisFormat = spec.axisFormat || spec.format;
    for (const v of [lo, hi]) {
      const label = axisFormat(v, lo, hi);
      add('text', { class: 'tick', x: margin.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, label);
    }
    const { ticks, step } = timeTicks(nowMs - span, nowMs, Math.max(2, Math.floor(plotW / 80)));
    for (const t of ticks) {
      const label = step < 60 * 1000 ? formatClock(t) : formatClock(t).slice(0, 5); // hh:mm(:ss)
      add('line', { class: 'grid', x1: x(t), x2: x(t), y1: margin.top, y2: y(lo) });
      add('text', { class: 'tick', x: x(t), y: height - 6, 'text-anchor': 'middle' }, label);
    }
    if (!values.length) {
      const middle = { x: margin.left + plotW / 2, y: margin.top + plotH / 2, 'text-anchor': 'middle' };
      add('text', { class: 'empty', ...middle }, 'no data yet');
    }

    for (const s of spec.series) {
      const runs = [[]];
      for (const p of shown) {
        if (p[s.key] === null) runs.push([]);
        else runs[runs.length - 1].push([x(p.t).toFixed(1), y(p[s.key]).toFixed(1)]);
      }
      for (const run of runs) {
        const [cx, cy] = run[0] || [];
        if (run.length === 1) add('circle', { class: `dot ${s.className}`, cx, cy, r: 3 });
        if (run.length > 1) add('polyline', { class: `line ${s.className}`, points: run.join(' ') });
      }
    }

    const words = spec.series.map((s) => {
      const own = shown.map((p) => p[s.key]).filter((v) => v !== null);
      if (!own.length) return `${s.label}: no data`;
      const [now, min, max] = [own[own.length - 1], Math.min(...own), Math.max(...own)].map(spec.format);
      return `${s.label}: now ${now}, min ${min}, max ${max}`;
    });
    const minutes = Math.round(span / 60000);
    svg.setAttribute('aria-label', `${spec.title}, last ${minutes} min. ${words.join('; ')}.`);
    figure.querySelector('figcaption .summary').textContent = words.join(' · ');
  }

  function setText(id, text) {
    const el = document.getElementById(id);
    if (el.textContent !== text) el.textContent = text;
  }

  // Writes the figures of the latest snapshot and of the window into the page.
  function render(latest, figures) {
    setText('model-status', latest.modelStatus || DASH);
    document.getElementById('model-status').dataset.state = latest.modelStatus || 'unknown';
    const about = document.getElementById('model-about');
    about.textContent = [
      latest.model,
      latest.provider,
      latest.threads !== null ? `${latest.threads} threads` : null,
      latest.version ? `v${latest.version}` : null,
    ]
      .filter(Boolean)
      .join(' · ');
    about.hidden = about.textContent === '';
    setText('cold-start-time', formatSeconds(latest.coldStartSeconds));
    setText('model-load-time', formatSeconds(latest.modelLoadSeconds));
    setText('warmup-time', formatSeconds(latest.warmupSeconds));
    setText('uptime', formatUptime(latest.uptimeSeconds));

    for (const el of document.querySelectorAll('.scope')) el.textContent = figures.scope;
    setText('requests-total', String(latest.processTotal));
    setText('window-requests', String(figures.requests));
    setText('request-rate', formatRate(figures.ratePerSecond));
    setText('cold-start-rate', formatPercent(figures.coldStartRate));
    setText('error-rate', formatPercent(figures.errorRate));
    setText('rejected-overload', String(figures.rejectedOverload));
    setText('latency-p50', formatLatency(figures.p50));
    setText('latency-p95', formatLatency(figures.p95));
    setText('latency-p99', formatLatency(figures.p99));
    setText('latency-mean', formatSeconds(figures.meanSeconds));

    const limit = latest.queueLimit !== null ? ` / ${latest.queueLimit}` : '';
    setText('queue-depth', latest.queueDepth === null ? DASH : `${latest.queueDepth}${limit}`);
    setText('in-flight', latest.inFlight === null ? DASH : String(latest.inFlight));
    setText('memory', formatBytes(latest.residentBytes));
    const gpu = latest.gpu;
    const gpuRatio = gpuMemoryRatio(gpu);
    if (gpu) {
      const share = gpuRatio !== null ? ` (${formatPercent(gpuRatio)})` : '';
      setText('gpu-memory', `${formatBytes(gpu.usedBytes)} / ${formatBytes(gpu.totalBytes)}${share}`);
      setText('gpu-util', formatPercent(gpu.utilization));
    } else {
      setText('gpu-memory', 'no GPU');
      setText('gpu-util', 'no GPU');
    }

    const { pricePerHour, uptimeSeconds, processTotal } = latest;
    const cost = costPerImage(pricePerHour, figures.meanSeconds, uptimeSeconds, processTotal);
    if (cost) {
      setText('cost-per-image', formatUsd(cost.whileServing));
      setText('cost-per-1000', formatUsd(cost.whileServing === null ? null : cost.whileServing * 1000));
      setText('cost-per-uptime', formatUsd(cost.perUptime));
      setText('price-per-hour', `${formatUsd(pricePerHour)} / hour`);
    } else {
      setText('cost-per-image', 'set --price-per-hour');
      setText('cost-per-1000', DASH);
      setText('cost-per-uptime', 'set --price-per-hour');
      setText('price-per-hour', 'not set');
    }

    const states = alertStates(figures, gpu);
    const alerts = [
      ['alert-cold-start-rate', states.coldStartRate, formatPercent(figures.coldStartRate)],
      ['alert-warm-p95', states.warmP95, formatLatency(figures.p95)],
      ['alert-gpu-memory', states.gpuMemory, gpu ? formatPercent(gpuRatio) : 'no GPU'],
      ['alert-error-rate', states.errorRate, formatPercent(figures.errorRate)],
    ];
    for (const [id, state, value] of alerts) {
      const el = document.getElementById(id);
      el.dataset.state = state;
      el.querySelector('.state').textContent = STATE_TEXT[state];
      el.querySelector('.value').textContent = value;
    }
  }

  function showConnection(state, text) {
    const el = document.getElementById('connection');
    el.dataset.state = state;
    el.textContent = text;
  }

  function startDashboard() {
    const query = Number(new URLSearchParams(location.search).get('interval'));
    const intervalMs = Number.isFinite(query) && query >= 250 ? query : DEFAULT_INTERVAL_MS;
    let history = []; // snapshots of the last 5 minutes
    let points = []; // plot points of the last hour
    let scrapes = 0;
    let downSince = null; // when the first failed scrape of an outage was
    document.body.dataset.scrapes = '0';

    async function fetchText(path) {
      const response = await fetch(path, {
        cache: 'no-store',
        signal: AbortSignal.timeout(Math.max(5000, intervalMs)),
      });
      return { status: response.status, ok: response.ok, text: await response.text() };
    }

    // /api/* answers 401 when the server has an API key, and this page has none to send; /metrics
    // stays open and has every figure but the model name, provider and queue limit. After a 401
    // status is asked again once a minute, not on every scrape.
    const STATUS_RETRY_MS = 60 * 1000;
    let statusAskedAfter = 0;
    let statusProblem = null; // what the notice says, or null

    async function fetchStatus(now) {
      if (now < statusAskedAfter) return null;
      try {
        const answer = await fetchText('/api/v2/status');
        if (answer.status === 401) {
          statusAskedAfter = now + STATUS_RETRY_MS;
          statusProblem =
            'Status needs an API key (/api/v2/status answered 401): model name, provider and queue limit ' +
            'are not shown; the figures come from /metrics.';
          return null;
        }
        const json = answer.ok ? JSON.parse(answer.text) : null;
        statusProblem = json ? null : `/api/v2/status answered ${answer.status}; figures from /metrics only.`;
        return json;
      } catch {
        statusProblem = '/api/v2/status did not answer; figures from /metrics only.';
        return null;
      }
    }

    function drawPlots() {
      const now = points.length ? points[points.length - 1].t : Date.now();
      for (const [id, spec] of Object.entries(PLOTS)) {
        drawPlot(document.getElementById(id), spec, points, now);
      }
    }

    async function scrape() {
      const [metrics, status] = await Promise.all([
        fetchText('/metrics').catch(() => null),
        fetchStatus(Date.now()),
      ]);
      const now = Date.now();
      if (!metrics || !metrics.ok) {
        // Keep the last figures; a point of nulls breaks the plot lines at the outage.
        if (downSince === null) {
          downSince = now;
          const gap = { t: now, ratePerSecond: null, p95Seconds: null };
          points.push({ ...gap, queueDepth: null, inFlight: null, residentBytes: null });
        }
        const why = metrics ? ` (/metrics answered ${metrics.status})` : '';
        const since = formatClock(downSince);
        showConnection('down', `Server unreachable since ${since}${why}; showing the last figures.`);
        return;
      }
      downSince = null;
      const notice = document.getElementById('status-notice');
      notice.hidden = statusProblem === null;
      notice.textContent = statusProblem || '';

      const snapshot = snapshotFromScrape(parsePrometheus(metrics.text), status, now);
      const previous = history[history.length - 1];
      history = addSnapshot(history, snapshot, WINDOW_MS);
      points.push(plotPoint(previous, snapshot));
      points = points.filter((p) => p.t >= now - PLOT_SPAN_MS);

      render(snapshot, windowFigures(selectWindow(history)));
      drawPlots();
      scrapes += 1;
      document.body.dataset.scrapes = String(scrapes);
      setText('last-update', formatClock(now));
      showConnection('live', `Live, every ${formatSeconds(intervalMs / 1000)}`);
    }

    // One scrape at a time: the next starts `interval` after the last one ended.
    async function loop() {
      try {
        await scrape();
      } catch (error) {
        showConnection('down', `Dashboard error: ${error.message}`);
        console.error(error);
      }
      setTimeout(loop, intervalMs);
    }

    let redrawQueued = false;
    window.addEventListener('resize', () => {
      if (redrawQueued) return;
      redrawQueued = true;
      requestAnimationFrame(() => {
        redrawQueued = false;
        drawPlots();
      });
    });
    drawPlots();
    loop();
  }

  if (typeof module === 'object' && module.exports) {
    module.exports = {
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
      alertStates,
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
  } else if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', startDashboard);
  } else {
    startDashboard();
  }
})();
