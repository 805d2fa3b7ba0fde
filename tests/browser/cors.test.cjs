// Cross-origin calls in the real Chromium (issue 16, SPEC §7 `--cors-origins`): a page served
// from a second origin (another port) warms the service and cuts out a photo through fetch(),
// reading the JSON and an exposed header; a page from an origin not in the list is refused by the
// browser (its preflight gets 403 and no Access-Control-Allow-Origin). Label `browser`.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const { evalPhoto, startServer, launchBrowser, watchProblems } = require('./harness.cjs');

const PHOTO = fs.readFileSync(evalPhoto('grabcut/images/person1.jpg'));

// A frontend of its own origin: an empty page and the photo, at 127.0.0.1:<port>.
function startFrontend() {
  const server = http.createServer((req, res) => {
    if (req.url === '/photo.jpg') {
      res.writeHead(200, { 'Content-Type': 'image/jpeg' });
      res.end(PHOTO);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>frontend</title><p>another origin</p>');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const origin = (s) => `http://127.0.0.1:${s.address().port}`;

let allowed;
let denied;
let service;
let browser;

test.before(async () => {
  [allowed, denied, browser] = await Promise.all([startFrontend(), startFrontend(), launchBrowser()]);
  service = await startServer({ args: ['--cors-origins', `https://elsewhere.example, ${origin(allowed)}`, '--api-key', 'k3y'] });
});

test.after(async () => {
  if (browser) await browser.close();
  for (const s of [allowed, denied]) if (s) s.close();
  if (service) {
    const { code } = await service.stop();
    assert.equal(code, 0, 'the server exits cleanly on SIGTERM');
  }
});

// What the page at `frontendOrigin` gets when it warms the service and posts the photo (with the
// API key and a request id: headers that make the browser send a preflight).
async function callFrom(frontendOrigin) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = watchProblems(page);
  try {
    await page.goto(`${frontendOrigin}/`);
    return await page.evaluate(async (api) => {
      const out = {};
      try {
        const warm = await fetch(`${api}/api/v2/warmup`, { method: 'POST', headers: { Authorization: 'Bearer k3y' } });
        out.warmStatus = warm.status;
        out.warm = await warm.json();
        const photo = await (await fetch('/photo.jpg')).blob();
        const form = new FormData();
        form.append('image', photo, 'person1.jpg');
        const res = await fetch(`${api}/api/v2/process?effects=color`, {
          method: 'POST',
          headers: { Authorization: 'Bearer k3y', 'X-Request-Id': 'cors-e2e-1' },
          body: form,
        });
        out.status = res.status;
        out.requestId = res.headers.get('X-Request-Id');
        const body = await res.json();
        out.width = body.width;
        out.outputs = Object.keys(body.outputs || {});
        const noKey = await fetch(`${api}/api/v2/status`);
        out.noKeyStatus = noKey.status;
        out.noKeyError = (await noKey.json()).error.code;
      } catch (e) {
        out.error = String(e);
      }
      return out;
    }, service.url);
  } finally {
    await context.close();
    problems.length = 0; // a refused fetch logs a console error by design
  }
}

test('a page on an allowed origin warms the service and cuts out a photo', async () => {
  const r = await callFrom(origin(allowed));
  assert.equal(r.error, undefined, JSON.stringify(r));
  assert.equal(r.warmStatus, 200);
  assert.equal(r.warm.status, 'ready');
  assert.equal(r.status, 200);
  assert.equal(r.requestId, 'cors-e2e-1', 'X-Request-Id is exposed to the page');
  assert.equal(r.width, 600);
  assert.deepEqual(r.outputs, ['color']);
  // The page can read the API's errors too: they carry the CORS headers.
  assert.equal(r.noKeyStatus, 401);
  assert.equal(r.noKeyError, 'unauthorized');
});

test('a page on another origin is refused, and the service says why', async () => {
  const r = await callFrom(origin(denied));
  assert.match(r.error || '', /TypeError|Failed to fetch/, JSON.stringify(r));
  assert.equal(r.status, undefined, 'no answer reached the page');
  // Its preflight was answered 403 and logged; the process request itself never ran.
  const refused = service.logs.filter((l) => l.httpRequest && l.httpRequest.requestMethod === 'OPTIONS' && l.httpRequest.status === 403);
  assert.ok(refused.length >= 1, JSON.stringify(service.logs.slice(-5)));
  const processed = service.logs.filter((l) => l.endpoint === '/api/v2/process' && l.httpRequest && l.httpRequest.status === 200);
  assert.equal(processed.length, 1, 'only the allowed page processed a photo');
  // Without an Origin (curl, servers) nothing changes, and no CORS header is sent.
  const direct = await fetch(`${service.url}/api/v2/status`, { headers: { Authorization: 'Bearer k3y' } });
  assert.equal(direct.status, 200);
  assert.equal(direct.headers.get('access-control-allow-origin'), null);
});

test('without --cors-origins a preflight is 405 and no CORS header is sent', async () => {
  const plain = await startServer({ waitReady: false });
  try {
    const pre = await fetch(`${plain.url}/api/v2/process`, {
      method: 'OPTIONS',
      headers: { Origin: origin(allowed), 'Access-Control-Request-Method': 'POST' },
    });
    assert.equal(pre.status, 405);
    assert.equal(pre.headers.get('access-control-allow-origin'), null);
    const health = await fetch(`${plain.url}/healthz`, { headers: { Origin: origin(allowed) } });
    assert.equal(health.headers.get('access-control-allow-origin'), null);
  } finally {
    await plain.stop();
  }
});
