// Unit tests of the dashboard's pure functions (web/dashboard_figures.js): Prometheus parsing,
// histogram quantiles, the 5-minute window, cost per image and alert states.
// Run: node --test tests/browser/dashboard_logic.test.cjs
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const d = require('../../web/dashboard_figures.js');

const close = (actual, expected, tolerance = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not within ${tolerance} of ${expected}`);

test('parsePrometheus: comments, HELP/TYPE, blank lines', () => {
  const samples = d.parsePrometheus(
    [
      '# HELP cutout_requests_total HTTP requests by endpoint and status code',
      '# TYPE cutout_requests_total counter',
      '',
      '# a free comment with {braces} 1 2 3',
      'cutout_requests_total{endpoint="/api/v2/process",code="200"} 7',
      '   ',
      'process_resident_memory_bytes 1422827520',
    ].join('\n'),
  );
  assert.deepEqual(samples, [
    {
      name: 'cutout_requests_total',
      labels: { endpoint: '/api/v2/process', code: '200' },
      value: 7,
      timestamp: null,
    },
    { name: 'process_resident_memory_bytes', labels: {}, value: 1422827520, timestamp: null },
  ]);
});

test('parsePrometheus: escaped label values, commas and braces inside quotes', () => {
  const [a, b] = d.parsePrometheus(
    [
      'm{a="q\\"uote",path="C:\\\\dir",msg="line1\\nline2"} 1',
      'm{list="x, y, z",odd="}{=",} 2',
    ].join('\n'),
  );
  assert.deepEqual(a.labels, { a: 'q"uote', path: 'C:\\dir', msg: 'line1\nline2' });
  assert.deepEqual(b.labels, { list: 'x, y, z', odd: '}{=' });
  assert.equal(b.value, 2);
});

test('parsePrometheus: +Inf, -Inf, NaN, scientific notation, timestamps', () => {
  const samples = d.parsePrometheus(
    [
      'h_bucket{le="+Inf"} 3',
      'g_inf +Inf',
      'g_neg -Inf',
      'g_nan NaN',
      'g_sci 2.5E-3',
      'g_sci2 -1.5e+3',
      'g_ts{a="b"} 12 1700000000000',
    ].join('\n'),
  );
  const value = (name) => samples.find((s) => s.name === name).value;
  assert.equal(d.parseValue(samples[0].labels.le), Infinity);
  assert.equal(value('g_inf'), Infinity);
  assert.equal(value('g_neg'), -Infinity);
  assert.ok(Number.isNaN(value('g_nan')));
  assert.equal(value('g_sci'), 0.0025);
  assert.equal(value('g_sci2'), -1500);
  const ts = samples.find((s) => s.name === 'g_ts');
  assert.equal(ts.value, 12);
  assert.equal(ts.timestamp, 1700000000000);
});

test('parsePrometheus: malformed lines are skipped, the rest kept', () => {
  const samples = d.parsePrometheus(
    [
      'good 1',
      'bad_value abc',
      'unterminated{a="b} 2',
      'no_value{a="b"}',
      'too many fields 1 2 3',
      '9starts_with_digit 1',
      'good_too{a="b"} 0x10',
      'also_good 2',
    ].join('\n'),
  );
  assert.deepEqual(
    samples.map((s) => s.name),
    ['good', 'also_good'],
  );
});

test('sumSamples and gaugeValue: label filters, absent families', () => {
  const samples = d.parsePrometheus(
    [
      'cutout_requests_total{endpoint="/api/v2/process",code="200"} 90',
      'cutout_requests_total{endpoint="/api/v2/process",code="422"} 4',
      'cutout_requests_total{endpoint="/api/v2/process",code="500"} 2',
      'cutout_requests_total{endpoint="/api/v2/process",code="504"} 1',
      'cutout_requests_total{endpoint="/metrics",code="200"} 50',
      'cutout_cold_start_seconds NaN',
    ].join('\n'),
  );
  assert.equal(d.sumSamples(samples, 'cutout_requests_total', { endpoint: '/api/v2/process' }), 97);
  const serverErrors = { endpoint: '/api/v2/process', code: (c) => Number(c) >= 500 };
  assert.equal(d.sumSamples(samples, 'cutout_requests_total', serverErrors), 3);
  assert.equal(d.sumSamples(samples, 'cutout_cold_requests_total'), 0);
  assert.equal(d.gaugeValue(samples, 'cutout_gpu_memory_used_bytes'), null);
  assert.equal(d.gaugeValue(samples, 'cutout_cold_start_seconds'), null, 'NaN reads as unknown');
});

test('histogramBuckets: sums series by bound and sorts by le', () => {
  const samples = d.parsePrometheus(
    [
      'h_bucket{endpoint="a",le="+Inf"} 4',
      'h_bucket{endpoint="a",le="1"} 3',
      'h_bucket{endpoint="a",le="0.5"} 1',
      'h_bucket{endpoint="b",le="0.5"} 10',
      'h_bucket{endpoint="b",le="1"} 10',
      'h_bucket{endpoint="b",le="+Inf"} 10',
    ].join('\n'),
  );
  assert.deepEqual(d.histogramBuckets(samples, 'h', { endpoint: 'a' }), [
    { le: 0.5, count: 1 },
    { le: 1, count: 3 },
    { le: Infinity, count: 4 },
  ]);
  assert.deepEqual(d.histogramBuckets(samples, 'h'), [
    { le: 0.5, count: 11 },
    { le: 1, count: 13 },
    { le: Infinity, count: 14 },
  ]);
});

test('histogramQuantile: empty histograms are null', () => {
  assert.equal(d.histogramQuantile(0.5, []), null);
  const zero = [
    { le: 1, count: 0 },
    { le: Infinity, count: 0 },
  ];
  assert.equal(d.histogramQuantile(0.5, zero), null);
  // Without a +Inf bucket the histogram is incomplete (as in Prometheus).
  assert.equal(d.histogramQuantile(0.5, [{ le: 1, count: 3 }, { le: 2, count: 4 }]), null);
});

test('histogramQuantile: interpolation inside the first bucket starts from 0', () => {
  const buckets = [
    { le: 1, count: 10 },
    { le: 2, count: 10 },
    { le: Infinity, count: 10 },
  ];
  // rank 5 of 10, all in (0, 1] → 0 + 1 × 5/10
  assert.deepEqual(d.histogramQuantile(0.5, buckets), { seconds: 0.5, overflow: false });
  // rank 9.9 → 0.99
  close(d.histogramQuantile(0.99, buckets).seconds, 0.99);
});

test('histogramQuantile: interpolation inside a middle bucket', () => {
  const buckets = [
    { le: 0.5, count: 2 },
    { le: 1, count: 6 },
    { le: 2.5, count: 10 },
    { le: Infinity, count: 10 },
  ];
  // p50: rank 5 in (0.5, 1] holding 4, 3 of them → 0.5 + 0.5 × 3/4
  close(d.histogramQuantile(0.5, buckets).seconds, 0.875);
  // p95: rank 9.5 in (1, 2.5] holding 4, 3.5 of them → 1 + 1.5 × 3.5/4
  close(d.histogramQuantile(0.95, buckets).seconds, 2.3125);
  // p99: rank 9.9 → 1 + 1.5 × 3.9/4
  close(d.histogramQuantile(0.99, buckets).seconds, 2.4625);
});

test('histogramQuantile: all in +Inf reports the largest finite bound as overflow', () => {
  const buckets = [
    { le: 0.1, count: 0 },
    { le: 10, count: 0 },
    { le: 60, count: 0 },
    { le: Infinity, count: 5 },
  ];
  assert.deepEqual(d.histogramQuantile(0.5, buckets), { seconds: 60, overflow: true });
  assert.equal(d.formatLatency(d.histogramQuantile(0.99, buckets)), '> 60 s');
});

test('histogramQuantile: a bucket trailing the one before it is made monotonic', () => {
  const buckets = [
    { le: 1, count: 2 },
    { le: 2, count: 1 },
    { le: 3, count: 4 },
    { le: Infinity, count: 4 },
  ];
  // Read as 2, 2, 4, 4: p75 is rank 3 in (2, 3] holding 2, 1 of them → 2.5 (not 2 + 2/3).
  close(d.histogramQuantile(0.75, buckets).seconds, 2.5);
});

test('histogramQuantile on real cutout text', () => {
  // From a cutout serve: two 4xx answered in < 1 ms, one image in 1.31 s.
  const text = [
    '0.001 2', '0.0025 2', '0.005 2', '0.01 2', '0.025 2', '0.05 2', '0.1 2', '0.25 2', '0.5 2', '1 2',
    '2.5 3', '5 3', '10 3', '30 3', '60 3', '+Inf 3',
  ]
    .map((pair) => {
      const [le, count] = pair.split(' ');
      return `cutout_request_duration_seconds_bucket{endpoint="/api/v2/process",le="${le}"} ${count}`;
    })
    .join('\n');
  const buckets = d.histogramBuckets(d.parsePrometheus(text), 'cutout_request_duration_seconds', {
    endpoint: '/api/v2/process',
  });
  close(d.histogramQuantile(0.5, buckets).seconds, 0.00075); // rank 1.5 of the 2 in (0, 1 ms]
  close(d.histogramQuantile(0.95, buckets).seconds, 2.275); // 1 + 1.5 × 0.85
});

// /metrics text of a server with these counters; buckets are the cumulative counts at
// le = 0.5, 1, 2.5, +Inf of the process histogram.
function metricsText(counters) {
  const { ok = 0, client = 0, server = 0, cold = 0, overloaded = 0, sum = 0, start = 1000 } = counters;
  const buckets = counters.buckets || [0, 0, 0, 0];
  const bounds = ['0.5', '1', '2.5', '+Inf'];
  const process = 'cold="false"';
  return [
    `cutout_requests_total{endpoint="/api/v2/process",code="200"} ${ok}`,
    `cutout_requests_total{endpoint="/api/v2/process",code="422"} ${client}`,
    `cutout_requests_total{endpoint="/api/v2/process",code="500"} ${server}`,
    `cutout_requests_total{endpoint="/metrics",code="200"} 99`,
    `cutout_cold_requests_total ${cold}`,
    `cutout_rejected_total{reason="queue_full"} ${overloaded}`,
    `cutout_rejected_total{reason="undecodable"} ${client}`,
    ...bounds.map((le, i) => `cutout_process_duration_seconds_bucket{${process},le="${le}"} ${buckets[i]}`),
    `cutout_process_duration_seconds_sum{${process}} ${sum}`,
    `cutout_process_duration_seconds_count{${process}} ${buckets[3]}`,
    // Fast refusals are in the request histogram, not in the one of successful requests.
    `cutout_request_duration_seconds_bucket{endpoint="/api/v2/process",le="0.5"} 1000`,
    `cutout_request_duration_seconds_bucket{endpoint="/api/v2/process",le="+Inf"} 1000`,
    'cutout_queue_depth 1',
    'cutout_in_flight 1',
    'cutout_price_per_hour_usd 0.36',
    'cutout_model_status{status="loading"} 0',
    'cutout_model_status{status="ready"} 1',
    'cutout_cold_start_seconds 3.5',
    'cutout_model_load_seconds 1.25',
    'cutout_warmup_seconds 0',
    `process_start_time_seconds ${start}`,
    'process_resident_memory_bytes 1073741824',
  ].join('\n');
}

const snapshot = (counters, tMs, status = null) =>
  d.snapshotFromScrape(d.parsePrometheus(metricsText(counters)), status, tMs);

test('snapshotFromScrape: works from /metrics alone (status 401) and prefers status when present', () => {
  const counters = { ok: 8, client: 1, server: 1, cold: 2, buckets: [2, 6, 10, 10], sum: 9 };
  const alone = snapshot(counters, 1_100_000);
  assert.equal(alone.processTotal, 10);
  assert.equal(alone.processErrors, 1);
  assert.equal(alone.coldRequests, 2);
  assert.equal(alone.modelStatus, 'ready');
  assert.equal(alone.coldStartSeconds, 3.5);
  assert.equal(alone.modelLoadSeconds, 1.25);
  assert.equal(alone.warmupSeconds, null, '0 means not measured yet');
  assert.equal(alone.pricePerHour, 0.36);
  assert.equal(alone.uptimeSeconds, 100, 'now (1100 s) - process_start_time_seconds (1000 s)');
  assert.equal(alone.gpu, null);
  assert.equal(alone.queueLimit, null);

  const status = {
    model_status: 'ready',
    cold_start_ms: 3669.6,
    uptime_s: 42,
    queue_limit: 4,
    model: 'isnet',
  };
  const both = snapshot({ ok: 1, buckets: [1, 1, 1, 1] }, 1_100_000, status);
  assert.equal(both.uptimeSeconds, 42);
  close(both.coldStartSeconds, 3.6696);
  assert.equal(both.queueLimit, 4);
  assert.equal(both.model, 'isnet');

  // While loading: status says -1 and the gauge NaN.
  const loading = d.snapshotFromScrape(
    d.parsePrometheus('cutout_cold_start_seconds NaN\ncutout_model_status{status="loading"} 1'),
    { model_status: 'loading', cold_start_ms: -1 },
    0,
  );
  assert.equal(loading.coldStartSeconds, null);
  assert.equal(loading.modelStatus, 'loading');
});

test('snapshotFromScrape: GPU metrics when present', () => {
  const text = [
    'cutout_gpu_memory_used_bytes{gpu="0"} 21474836480',
    'cutout_gpu_memory_total_bytes{gpu="0"} 24159191040',
    'cutout_gpu_utilization_ratio{gpu="0"} 0.25',
  ].join('\n');
  const snap = d.snapshotFromScrape(d.parsePrometheus(text), null, 0);
  assert.deepEqual(snap.gpu, { usedBytes: 21474836480, totalBytes: 24159191040, utilization: 0.25 });
  // 20 GiB of 22.5 GiB = 88.9 %: not firing.
  assert.equal(d.alertStates({ warmP95: null, coldStartRate: null, errorRate: null }, snap.gpu).gpuMemory, 'ok');
});

test('snapshotFromScrape: the share store when there is one', () => {
  const text = [
    'cutout_share_objects{store="redis"} 12',
    'cutout_share_bytes{store="redis"} 3145728',
    'cutout_share_store_errors_total{store="redis"} 2',
  ].join('\n');
  assert.deepEqual(d.snapshotFromScrape(d.parsePrometheus(text), null, 0).share,
    { store: 'redis', objects: 12, bytes: 3145728, errors: 2 });
  assert.equal(d.snapshotFromScrape(d.parsePrometheus('cutout_queue_depth 0'), null, 0).share, null);
});

test('selectWindow: falls back to since-start without process requests in the window', () => {
  const first = snapshot({ ok: 10, cold: 5, buckets: [2, 6, 10, 10], sum: 8 }, 1_100_000);
  let window = d.selectWindow([first]);
  assert.equal(window.scope, 'since start');
  let figures = d.windowFigures(window);
  assert.equal(figures.requests, 10);
  close(figures.coldStartRate, 0.5);
  close(figures.ratePerSecond, 0.1, 1e-12); // 10 requests / 100 s of uptime
  close(figures.p50.seconds, 0.875);

  // A second scrape with no new process request: still since start.
  const idle = snapshot({ ok: 10, cold: 5, buckets: [2, 6, 10, 10], sum: 8 }, 1_105_000);
  window = d.selectWindow([first, idle]);
  assert.equal(window.scope, 'since start');
  assert.equal(d.windowFigures(window).requests, 10);
});

test('windowFigures: differences over the last 5 minutes', () => {
  const base = snapshot({ ok: 10, cold: 5, buckets: [2, 6, 10, 10], sum: 8 }, 1_000_000);
  const latest = snapshot(
    { ok: 28, client: 1, server: 1, cold: 5, overloaded: 3, buckets: [4, 14, 29, 30], sum: 40 },
    1_100_000,
  );
  const window = d.selectWindow([base, latest]);
  assert.equal(window.scope, 'last 5 min');
  const f = d.windowFigures(window);
  assert.equal(f.requests, 20);
  close(f.ratePerSecond, 0.2); // 20 in 100 s
  assert.equal(f.coldStartRate, 0);
  close(f.errorRate, 0.05); // the 500; the 422 is not an error
  assert.equal(f.rejectedOverload, 3);
  // window buckets 2, 8, 19, 20: p50 rank 10 → 1 + 1.5 × 2/11
  close(f.p50.seconds, 1 + 1.5 * (2 / 11));
  close(f.p95.seconds, 2.5); // rank 19, the top of (1, 2.5]
  assert.deepEqual(f.p99, { seconds: 2.5, overflow: true }); // rank 19.8 lies in +Inf
  close(f.meanSeconds, 1.6); // (40 - 8) / 20
});

test('addSnapshot: keeps 5 minutes and starts over after a restart', () => {
  const five = 5 * 60 * 1000;
  let history = [];
  for (let t = 0; t <= 10 * 60 * 1000; t += 60 * 1000) {
    history = d.addSnapshot(history, snapshot({ ok: t / 60000 }, t), five);
  }
  assert.deepEqual(
    history.map((s) => s.t / 60000),
    [5, 6, 7, 8, 9, 10],
  );
  const restarted = snapshot({ ok: 1, start: 5000 }, 11 * 60 * 1000);
  assert.ok(d.isCounterReset(history[history.length - 1], restarted));
  history = d.addSnapshot(history, restarted, five);
  assert.deepEqual(history, [restarted]);
});

test('plotPoint: rate and p95 between two scrapes; a gap without requests', () => {
  const a = snapshot({ ok: 10, buckets: [2, 6, 10, 10] }, 0);
  const b = snapshot({ ok: 12, buckets: [2, 6, 12, 12] }, 10_000);
  const point = d.plotPoint(a, b);
  close(point.ratePerSecond, 0.2);
  close(point.p95Seconds, 1 + 1.5 * 0.95); // 2 in (1, 2.5], rank 1.9
  assert.equal(point.queueDepth, 1);
  assert.equal(point.residentBytes, 1073741824);

  const idle = d.plotPoint(b, snapshot({ ok: 12, buckets: [2, 6, 12, 12] }, 20_000));
  assert.equal(idle.ratePerSecond, 0);
  assert.equal(idle.p95Seconds, null);
  const first = d.plotPoint(undefined, a);
  assert.equal(first.ratePerSecond, null);
});

test('costPerImage: while serving and per uptime', () => {
  const cost = d.costPerImage(0.36, 2, 7200, 100);
  close(cost.whileServing, 0.0002); // 0.36 / 3600 × 2 s
  close(cost.perUptime, 0.0072); // 0.36 × 2 h / 100
  assert.equal(d.formatUsd(cost.whileServing), '$0.0002');
  assert.equal(d.costPerImage(0, 2, 7200, 100), null, 'no price: the page asks for --price-per-hour');
  assert.deepEqual(d.costPerImage(0.36, null, 7200, 0), { whileServing: null, perUptime: null });
});

test('alertStates: thresholds are exclusive; no data without requests or GPU', () => {
  const figures = (coldStartRate, warmP95, errorRate) => ({ coldStartRate, warmP95, errorRate });
  const q = (seconds, overflow = false) => ({ seconds, overflow });
  assert.deepEqual(d.alertStates(figures(null, null, null), null), {
    coldStartRate: 'no-data',
    warmP95: 'no-data',
    gpuMemory: 'no-data',
    errorRate: 'no-data',
  });
  assert.deepEqual(d.alertStates(figures(0.1, q(10), 0.01), { usedBytes: 90, totalBytes: 100 }), {
    coldStartRate: 'ok',
    warmP95: 'ok',
    gpuMemory: 'ok',
    errorRate: 'ok',
  });
  assert.deepEqual(d.alertStates(figures(0.11, q(10.5), 0.011), { usedBytes: 91, totalBytes: 100 }), {
    coldStartRate: 'firing',
    warmP95: 'firing',
    gpuMemory: 'firing',
    errorRate: 'firing',
  });
  assert.equal(d.alertStates(figures(0, q(60, true), 0), null).warmP95, 'firing', '> 60 s');
  assert.equal(d.alertStates(figures(0, q(1), 0), { usedBytes: null, totalBytes: 100 }).gpuMemory, 'no-data');
});

test('formatting', () => {
  assert.equal(d.formatSeconds(0.85), '850 ms');
  assert.equal(d.formatSeconds(1.2345), '1.23 s');
  assert.equal(d.formatSeconds(0.00075), '0.75 ms');
  assert.equal(d.formatSeconds(12.34), '12.3 s');
  assert.equal(d.formatLatency(null), '—');
  assert.equal(d.formatLatency({ seconds: 2.276, overflow: false }), '2.28 s');
  assert.equal(d.formatPercent(0.05), '5 %');
  assert.equal(d.formatPercent(1 / 3), '33.3 %');
  assert.equal(d.formatBytes(1422827520), '1.33 GiB');
  assert.equal(d.formatBytes(300 * 1024 * 1024), '300 MiB');
  assert.equal(d.formatBytes(23 * 1024 + 100), '23 KiB');
  assert.equal(d.formatBytes(512), '512 B');
  assert.equal(d.formatRate(0.2), '0.2 /s · 12 /min');
  assert.equal(d.formatUsd(0.000127), '$0.000127');
  assert.equal(d.formatUsd(5), '$5.00');
  assert.equal(d.formatUptime(3725), '1 h 2 min');
  assert.equal(d.formatClock(new Date(2024, 0, 1, 9, 5, 7).getTime()), '09:05:07');
});

test('timeTicks and plotRange: round steps and a round top', () => {
  const { ticks, step } = d.timeTicks(0, 10 * 60 * 1000, 6);
  assert.equal(step, 2 * 60 * 1000);
  assert.deepEqual(ticks, [0, 2, 4, 6, 8, 10].map((m) => m * 60000));
  assert.equal(d.niceCeil(0.37), 0.5);
  assert.equal(d.niceCeil(2.1), 2.5);
  assert.equal(d.niceCeil(7), 10);
  assert.deepEqual(d.plotRange([0.1, 0.37], true), { lo: 0, hi: 0.5 });
  assert.deepEqual(d.plotRange([0, 0], true), { lo: 0, hi: 1 });
  const memory = d.plotRange([100, 100], false);
  assert.ok(memory.lo < 100 && memory.hi > 100);
});
