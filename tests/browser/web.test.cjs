// The page and the dashboard in the real Chromium, against the real `cutout serve` with the real
// model (label `browser`). Run: node --test tests/browser/web.test.cjs (CTest sets CUTOUT_BIN).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { evalPhoto, startServer, launchBrowser, watchProblems } = require('./harness.cjs');

const PHOTO = evalPhoto('grabcut/images/person1.jpg'); // 600x450
const PHOTO_SIZE = { width: 600, height: 450 };
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cutout-browser-'));
let server;
let browser;

test.before(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
});

test.after(async () => {
  if (browser) await browser.close();
  if (server) {
    const { code } = await server.stop();
    assert.equal(code, 0, 'the server exits cleanly on SIGTERM');
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function openPage(viewport = { width: 1280, height: 900 }, url = server.url) {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  const problems = watchProblems(page);
  await page.goto(`${url}/`);
  return { context, page, problems };
}

function tempFile(name, bytes) {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, bytes);
  return file;
}

test('the page warms the service, processes a photo through every stage and offers four downloads', async () => {
  const { context, page, problems } = await openPage();
  try {
    await page.waitForSelector('#model-state[data-state="ready"]');
    assert.match(await page.textContent('#model-state'), /Ready · isnet-qdq on cpu/);
    // The page's own warm-up ping reached the server.
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /cutout_warmup_pings_total [1-9]/);

    // Remember every progress value the bar takes, to see it move through the stages.
    await page.evaluate(() => {
      window.progressSeen = [];
      const bar = document.getElementById('progress');
      const value = Object.getOwnPropertyDescriptor(HTMLProgressElement.prototype, 'value');
      Object.defineProperty(bar, 'value', {
        get() { return value.get.call(bar); },
        set(v) { value.set.call(bar, v); window.progressSeen.push(Number(v)); },
      });
    });
    await page.setInputFiles('#file-input', PHOTO);
    await page.waitForSelector('#results:not([hidden])', { timeout: 60000 });

    assert.equal(await page.$eval('#progress', (p) => p.value), 100);
    const seen = await page.evaluate(() => window.progressSeen);
    assert.ok(seen.some((v) => v > 0 && v < 100), `intermediate progress: ${seen}`);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i] >= seen[i - 1], `progress never goes back: ${seen}`);
    const stages = await page.$$eval('#stages li', (items) => items.map((li) => li.textContent));
    assert.equal(stages[0], 'Queued');
    assert.equal(stages[1], `Decoded ${PHOTO_SIZE.width} × ${PHOTO_SIZE.height}`);
    assert.match(stages[2], /^Subject found in \d/);
    assert.deepEqual(stages.slice(3, 7).sort(), ['Black & white ready', 'Cut-out ready', 'Dithered print ready', 'Pop art ready']);
    assert.equal(stages[7], 'Done');

    // Four images, each decoded by the browser at the photo's size, with alt text.
    const figures = await page.$$eval('#result-grid figure', async (nodes) => Promise.all(nodes.map(async (f) => {
      const img = f.querySelector('img');
      await img.decode();
      return { effect: f.dataset.effect, w: img.naturalWidth, h: img.naturalHeight, alt: img.alt,
               shareHidden: f.querySelector('button.share').hidden, download: f.querySelector('a.download').download };
    })));
    assert.deepEqual(figures.map((f) => f.effect), ['color', 'bw', 'popart', 'dither']);
    for (const f of figures) {
      assert.deepEqual([f.w, f.h], [PHOTO_SIZE.width, PHOTO_SIZE.height], f.effect);
      assert.match(f.alt, /^person1\.jpg /, f.effect);
      assert.equal(f.shareHidden, false, 'the server has a share store: a Share button');
      assert.equal(f.download, `person1-${f.effect}.png`);
    }
    // The cut-out is transparent where the background was: the checkerboard shows through.
    const transparent = await page.$eval('#result-grid figure[data-effect="color"] img', (img) => {
      const c = document.createElement('canvas');
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const g = c.getContext('2d');
      g.drawImage(img, 0, 0);
      const a = g.getImageData(0, 0, c.width, c.height).data;
      let clear = 0;
      for (let i = 3; i < a.length; i += 4) if (a[i] === 0) clear++;
      return clear / (c.width * c.height);
    });
    assert.ok(transparent > 0.2 && transparent < 0.95, `transparent share ${transparent}`);

    // One download: a real PNG of the photo's size, saved by the browser.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click('#result-grid figure[data-effect="popart"] a.download'),
    ]);
    assert.equal(download.suggestedFilename(), 'person1-popart.png');
    const saved = path.join(tmp, 'download.png');
    await download.saveAs(saved);
    const png = fs.readFileSync(saved);
    assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE);
    assert.equal(png.readUInt32BE(16), PHOTO_SIZE.width);
    assert.equal(png.readUInt32BE(20), PHOTO_SIZE.height);

    // Share the pop art: a link appears, and it serves exactly the bytes that were downloaded.
    await page.click('#result-grid figure[data-effect="popart"] button.share');
    await page.waitForSelector('#share-out:not([hidden])');
    const link = await page.inputValue('#share-url');
    assert.match(link, new RegExp(`^${server.url}/s/[A-Za-z0-9_-]{22}$`));
    const shared = await fetch(link);
    assert.equal(shared.status, 200);
    assert.equal(shared.headers.get('content-type'), 'image/png');
    assert.deepEqual(Buffer.from(await shared.arrayBuffer()), png);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('bad files are explained and the page stays usable', async () => {
  const { context, page, problems } = await openPage();
  try {
    await page.waitForSelector('#model-state[data-state="ready"]');
    const jpeg = fs.readFileSync(PHOTO);
    const cases = [
      { file: tempFile('broken.jpg', jpeg.subarray(0, Math.floor(jpeg.length / 3))), code: 'undecodable_image', text: /could not be read/ },
      { file: tempFile('notes.jpg', Buffer.from('these are my notes, not a photo\n'.repeat(20))), code: 'unsupported_media_type', text: /JPEG, PNG, WebP, BMP or TIFF/ },
    ];
    for (const c of cases) {
      await page.setInputFiles('#file-input', c.file);
      await page.waitForSelector(`#error[data-code="${c.code}"]:not([hidden])`);
      assert.match(await page.textContent('#error'), c.text);
      assert.equal(await page.isHidden('#results'), true);
      await page.click('#error-dismiss');
      assert.equal(await page.isHidden('#error'), true);
    }
    // After the errors a good photo still works.
    await page.setInputFiles('#file-input', PHOTO);
    await page.waitForSelector('#results:not([hidden])', { timeout: 60000 });
    // The errors reached the server as its real error codes.
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /cutout_requests_total\{endpoint="\/api\/v2\/process",code="422"\} [1-9]/);
    assert.match(metrics, /cutout_requests_total\{endpoint="\/api\/v2\/process",code="415"\} [1-9]/);
    assert.deepEqual(problems.filter((p) => !/status of 4\d\d/.test(p)), []);
  } finally {
    await context.close();
  }
});

test('keyboard, labels and a phone-sized screen', async () => {
  const { context, page, problems } = await openPage({ width: 390, height: 844 });
  try {
    await page.waitForSelector('#model-state[data-state="ready"]');
    // The file chooser is reachable by keyboard and named by its label.
    let focused = '';
    for (let i = 0; i < 6 && focused !== 'file-input'; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
    }
    assert.equal(focused, 'file-input', 'Tab reaches the file chooser');
    assert.equal(await page.getByLabel('Choose a photo').count(), 1);
    assert.equal(await page.getByLabel('Crop to the subject').count(), 1);
    assert.equal(await page.getByLabel('Format').count(), 1);
    // Keyboard users open the chooser with Space on it. Headless Chromium on a loaded 2-core
    // machine sometimes drops the first press (2 of 4 runs in a fresh clone, 2026-12-02):
    // up to three presses, each on the focused input; a page that never opens it still fails.
    let chooser = null;
    for (let attempt = 0; attempt < 3 && !chooser; attempt++) {
      await page.focus('#file-input');
      [chooser] = await Promise.all([
        page.waitForEvent('filechooser', { timeout: 10000 }).catch(() => null),
        page.keyboard.press('Space'),
      ]);
    }
    assert.ok(chooser, 'Space on the file input opens the file chooser');
    await chooser.setFiles(PHOTO);
    await page.waitForSelector('#results:not([hidden])', { timeout: 60000 });
    // Phone: nothing wider than the screen, results two by two.
    const layout = await page.evaluate(() => {
      const boxes = [...document.querySelectorAll('#result-grid figure')].map((f) => f.getBoundingClientRect());
      return { scrollWidth: document.documentElement.scrollWidth, tops: boxes.map((b) => Math.round(b.top)),
               widths: boxes.map((b) => Math.round(b.width)) };
    });
    assert.ok(layout.scrollWidth <= 390, `no horizontal scroll: ${layout.scrollWidth}`);
    assert.equal(new Set(layout.tops).size, 2, `two rows: ${layout.tops}`);
    assert.ok(layout.widths.every((w) => w >= 150), `readable results: ${layout.widths}`);
    // Every image has alt text; every control has a name.
    assert.equal(await page.$$eval('img:not([hidden])', (imgs) => imgs.filter((i) => !i.alt).length), 0);
    const unnamed = await page.$$eval('button:not([hidden]), a[href], input:not([type=hidden]), select',
      (els) => els.filter((e) => !(e.getAttribute('aria-label') || e.labels?.length || e.textContent.trim())).map((e) => e.outerHTML));
    assert.deepEqual(unnamed, []);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('an overloaded service answers 429: the page counts down from Retry-After and retries', async () => {
  // No waiting room: one inference at a time, any other request is refused at once.
  const busy = await startServer({ args: ['--queue-limit', '0', '--share-store', 'none'] });
  const { context, page, problems } = await openPage({ width: 1280, height: 900 }, busy.url);
  try {
    await page.waitForSelector('#model-state[data-state="ready"]');
    const photo = fs.readFileSync(PHOTO);
    // Keep the only inference slot busy with a larger image from outside the page.
    const big = fs.readFileSync(evalPhoto('davis2016/images/dog_00030.jpg'));
    const outside = (async () => {
      for (let i = 0; i < 6; i++) {
        const r = await fetch(`${busy.url}/api/v2/process?effects=color`, { method: 'POST', body: big });
        assert.ok(r.status === 200 || r.status === 429, `status ${r.status}`);
        await r.arrayBuffer();
      }
    })();
    let saw429 = false;
    for (let attempt = 0; attempt < 10 && !saw429; attempt++) {
      await page.setInputFiles('#file-input', tempFile(`photo${attempt}.jpg`, photo));
      const outcome = await Promise.race([
        page.waitForSelector('#error[data-code="overloaded"]:not([hidden])', { timeout: 60000 }).then(() => 'overloaded'),
        page.waitForSelector('#results:not([hidden])', { timeout: 60000 }).then(() => 'done'),
      ]);
      saw429 = outcome === 'overloaded';
      if (!saw429) await page.evaluate(() => { document.getElementById('results').hidden = true; });
    }
    assert.ok(saw429, 'a request was refused while the slot was busy');
    assert.match(await page.textContent('#error-message'), /Retrying in \d+ s/);
    assert.match(await page.textContent('#error-title'), /busy/);
    // The countdown ends in a new attempt that goes through once the slot is free.
    await outside;
    await page.waitForSelector('#results:not([hidden])', { timeout: 60000 });
    assert.equal(await page.isHidden('#error'), true);
    // This server has no share store: no Share buttons.
    assert.equal(await page.$$eval('#result-grid button.share', (b) => b.filter((x) => !x.hidden).length), 0);
    assert.deepEqual(problems.filter((p) => !/status of 429/.test(p)), []);
  } finally {
    await context.close();
    await busy.stop();
  }
});

test('a failed model, too many bytes and too many pixels: each gets its own clear message', async () => {
  const bogus = tempFile('not_a_model.onnx', Buffer.from('this is not an ONNX model'));
  // Limits that the eval photos straddle: person1.jpg has 283,623 bytes, sheep.jpg 254,352 bytes
  // and 270,000 pixels, teddy.jpg 35,784 bytes and 113,032 pixels.
  const broken = await startServer({
    args: ['--model', bogus, '--max-body-bytes', '270000', '--max-pixels', '200000'],
    waitReady: false,
  });
  const { context, page } = await openPage({ width: 1280, height: 900 }, broken.url);
  try {
    await page.waitForSelector('#model-state[data-state="failed"]');
    assert.match(await page.textContent('#model-state'), /failed/);
    assert.equal(await page.textContent('#limit-bytes'), '264 KB', 'the page states the server\'s limits');
    await page.setInputFiles('#file-input', PHOTO);
    await page.waitForSelector('#error[data-code="payload_too_large"]:not([hidden])');
    assert.match(await page.textContent('#error'), /too large.*up to 264 KB/s);
    await page.setInputFiles('#file-input', evalPhoto('grabcut/images/sheep.jpg'));
    await page.waitForSelector('#error[data-code="image_too_large"]:not([hidden])');
    assert.match(await page.textContent('#error'), /too many pixels.*up to 0\.2 megapixels/s);
    await page.setInputFiles('#file-input', evalPhoto('grabcut/images/teddy.jpg'));
    await page.waitForSelector('#error[data-code="not_ready"]:not([hidden])');
    assert.match(await page.textContent('#error'), /model is not available/);
  } finally {
    await context.close();
    await broken.stop();
  }
});

test('the dashboard shows requests, latency and alert states after a request', async () => {
  // The tests above sent photos through the page; one more from here so this test stands alone.
  const r = await fetch(`${server.url}/api/v2/process?effects=color`, { method: 'POST', body: fs.readFileSync(PHOTO) });
  assert.equal(r.status, 200);
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = watchProblems(page);
  try {
    await page.goto(`${server.url}/dashboard?interval=500`);
    await page.waitForFunction(() => Number(document.body.dataset.scrapes) >= 2);
    const total = Number(await page.textContent('#requests-total'));
    assert.ok(total >= 1, `requests ${total}`);
    const status = await (await fetch(`${server.url}/metrics`)).text();
    const counted = [...status.matchAll(/cutout_requests_total\{endpoint="\/api\/v2\/process",code="\d+"\} (\d+)/g)]
      .reduce((s, m) => s + Number(m[1]), 0);
    assert.equal(total, counted, 'the dashboard counts what /metrics says');
    for (const id of ['#latency-p50', '#latency-p95', '#latency-p99']) {
      assert.match(await page.textContent(id), /^\d+(\.\d+)? (ms|s)$/, id);
    }
    assert.match(await page.textContent('#model-status'), /ready/i);
    for (const id of ['#alert-cold-start-rate', '#alert-warm-p95', '#alert-gpu-memory', '#alert-error-rate']) {
      const s = await page.$eval(id, (e) => e.dataset.state);
      assert.ok(['ok', 'firing', 'no-data'].includes(s), `${id}: ${s}`);
    }
    assert.equal(await page.$eval('#alert-gpu-memory', (e) => e.dataset.state), 'no-data', 'no GPU here');
    // The first test shared one image into this server's file store.
    assert.match(await page.textContent('#share-objects'), /^1 · \d+ KiB \(file\)$/);
    assert.equal(await page.textContent('#share-errors'), '0');
    assert.equal(await page.$eval('#alert-warm-p95', (e) => e.dataset.state), 'ok');
    for (const id of ['#plot-request-rate', '#plot-latency', '#plot-queue', '#plot-memory']) {
      assert.equal(await page.$$eval(`${id} svg`, (s) => s.length), 1, id);
    }
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('the page is served with a validator, a strict CSP, and nothing outside web/', async () => {
  const page = await fetch(`${server.url}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type'), /^text\/html/);
  assert.match(page.headers.get('content-security-policy'), /script-src 'self'/);
  const etag = page.headers.get('etag');
  assert.match(etag, /^"[0-9a-f]{32}"$/);
  assert.equal((await fetch(`${server.url}/`, { headers: { 'If-None-Match': etag } })).status, 304);
  const script = await fetch(`${server.url}/static/app.js`);
  assert.equal(script.status, 200);
  assert.equal(await script.text(), fs.readFileSync(path.join(__dirname, '..', '..', 'web', 'app.js'), 'utf8'));
  for (const bad of ['/static/nope.js', '/static/.hidden', '/static/..%2fCMakeLists.txt']) {
    assert.equal((await fetch(`${server.url}${bad}`)).status, 404, bad);
  }
});
