// Shared by the browser tests and the screenshot command: start the real `cutout serve` on a free
// loopback port, and the Debian Chromium through playwright-core.
'use strict';

const { spawn } = require('node:child_process');
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');
const { chromium } = require('playwright-core');

const root = path.resolve(__dirname, '..', '..');

// The binary and the eval set: from the environment (CTest sets them), else the usual places.
function cutoutBinary() {
  return process.env.CUTOUT_BIN || path.join(root, 'build', 'cutout');
}

function evalDir() {
  return process.env.CUTOUT_EVAL_DIR || path.resolve(root, '..', 'shared', 'eval');
}

function evalPhoto(name) {
  const file = path.join(evalDir(), name);
  if (!fs.existsSync(file)) throw new Error(`eval photo missing: ${file}`);
  return file;
}

// Starts `cutout serve --port 0` and resolves once it listens (and, unless waitReady is false,
// once /readyz answers 200). The port comes from the "listening" log line.
// Each server keeps its data (the file share store) in a temp dir of its own, removed at stop().
async function startServer({ args = [], waitReady = true, timeoutMs = 60000 } = {}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutout-data-'));
  const child = spawn(cutoutBinary(), ['serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs = [];
  let buffered = '';
  let port = 0;
  let exited = null;
  const listening = new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      buffered += chunk.toString();
      let nl;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const entry = JSON.parse(line);
          logs.push(entry);
          if (entry.message === 'listening' && !port) {
            port = entry.port;
            resolve();
          }
        } catch (e) {
          logs.push({ unparsed: line });
        }
      }
    });
    child.stderr.on('data', (chunk) => logs.push({ stderr: chunk.toString() }));
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      reject(new Error(`cutout serve exited (${code ?? signal}) before listening: ${JSON.stringify(logs.slice(-5))}`));
    });
  });
  const server = {
    child,
    logs,
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get exited() {
      return exited;
    },
    async stop() {
      if (exited) return exited;
      const done = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
      const result = await done;
      clearTimeout(timer);
      fs.rmSync(dataDir, { recursive: true, force: true });
      return result;
    },
  };
  await withTimeout(listening, timeoutMs, 'cutout serve did not listen');
  if (waitReady) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await fetch(`${server.url}/readyz`).catch(() => null);
      if (r && r.status === 200) break;
      if (Date.now() > deadline) throw new Error('cutout serve did not become ready');
      await new Promise((res) => setTimeout(res, 100));
    }
  }
  return server;
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// The Debian Chromium, headless; as root it needs --no-sandbox.
function launchBrowser() {
  const args = ['--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];
  if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');
  return chromium.launch({
    executablePath: process.env.CUTOUT_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args,
  });
}

// Collects console errors, page errors and CSP violations of a page, for "no errors" checks.
function watchProblems(page) {
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  return problems;
}

module.exports = { root, evalDir, evalPhoto, startServer, launchBrowser, watchProblems };
