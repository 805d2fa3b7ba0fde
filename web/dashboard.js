// The ops dashboard of cutout serve (GET /dashboard).
//
// Polls GET /metrics (Prometheus text 0.0.4) and GET /api/v2/status every `interval` ms (default
// 5000; `?interval=1000` overrides it) and shows the figures of SPEC §5 and §7: model status,
// cold start, request and error rates, latency quantiles, queue, memory, GPU, cost per image, the
// four alert conditions of the operations plan, and plots of the last hour this page has seen.
//
// This file draws the page and polls; the arithmetic (parsing, windows, figures, formatting, plot
// ranges and ticks) is in dashboard_figures.js, loaded before it as the global `CutoutFigures`.
// No libraries and no inline code or styles: the page is served with a strict CSP.
(function () {
  'use strict';

  const {
    parsePrometheus,
    snapshotFromScrape,
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
    plotRange,
  } = window.CutoutFigures;

  const WINDOW_MS = 5 * 60 * 1000; // windowed figures: the last 5 minutes of scrapes
  const PLOT_SPAN_MS = 60 * 60 * 1000; // plots: the last hour of scrapes
  const DEFAULT_INTERVAL_MS = 5000;

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
    const share = latest.share;
    setText('share-objects', share ? `${share.objects ?? DASH} · ${formatBytes(share.bytes)} (${share.store})` : 'sharing off');
    setText('share-errors', share ? String(share.errors) : DASH);
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

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', startDashboard);
  } else {
    startDashboard();
  }
})();
