// `make screenshots`: the page (desktop and phone, with results) and the dashboard, in the real
// Chromium against the real server, saved to docs/screenshots/. Look at them after a UI change.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { root, evalPhoto, startServer, launchBrowser, watchProblems } = require('./harness.cjs');

const OUT = path.join(root, 'docs', 'screenshots');
const PHOTO = evalPhoto('davis2016/images/horsejump-high_00025.jpg');

// Waits for the re-render that `action` starts to be shown.
async function rendered(page, action) {
  const before = Number(await page.evaluate(() => document.body.dataset.renders || 0));
  await action();
  await page.waitForFunction((n) => Number(document.body.dataset.renders || 0) > n &&
    document.body.dataset.rendering === 'false', before);
  await page.$$eval('#result-grid img, #viewer-after', (imgs) => Promise.all(imgs.map((i) => i.decode())));
}

async function shootPage(browser, url, viewport, file, fullPage, adjust) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const problems = watchProblems(page);
  await page.goto(`${url}/`);
  await page.waitForSelector('#model-state[data-state="ready"]');
  await page.setInputFiles('#file-input', PHOTO);
  await page.waitForSelector('#results:not([hidden])', { timeout: 120000 });
  await page.$$eval('#result-grid img', (imgs) => Promise.all(imgs.map((i) => i.decode())));
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(600); // the smooth scroll to the results
  await page.evaluate(() => window.scrollTo(0, 0));
  if (adjust) {
    // The controls at work: a blurred background, the sunset 2x2 pop art, Atkinson dithering.
    await rendered(page, () => page.check('input[name="bg"][value="blur"]'));
    await rendered(page, () => page.selectOption('#fx-popart-palette', 'sunset'));
    await rendered(page, () => page.selectOption('#fx-popart-grid', '2x2'));
    await rendered(page, () => page.selectOption('#fx-dither-method', 'atkinson'));
    await page.fill('#compare', '35');
    await page.screenshot({ path: path.join(OUT, file), fullPage: true, clip: await page.$eval('#results', (r) => {
      const b = r.getBoundingClientRect();
      return { x: b.x, y: b.y + window.scrollY, width: b.width, height: b.height };
    }) });
    await context.close();
    return problems;
  }
  await page.screenshot({ path: path.join(OUT, file), fullPage });
  await context.close();
  return problems;
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const server = await startServer({ args: ['--price-per-hour', '0.35'] });
  const browser = await launchBrowser();
  try {
    const problems = [
      ...(await shootPage(browser, server.url, { width: 1280, height: 900 }, 'page-desktop.png', true)),
      ...(await shootPage(browser, server.url, { width: 390, height: 844 }, 'page-phone.png', true)),
      ...(await shootPage(browser, server.url, { width: 1280, height: 900 }, 'page-adjusted.png', true, true)),
    ];
    // The dashboard after those two photos and one refused file.
    await fetch(`${server.url}/api/v2/process`, { method: 'POST', body: 'not a photo' });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    problems.push(...watchProblems(page));
    await page.goto(`${server.url}/dashboard?interval=1000`);
    // Some traffic while it watches, so the plots have something to show.
    const photo = fs.readFileSync(PHOTO);
    for (let i = 0; i < 6; i++) {
      const r = await fetch(`${server.url}/api/v2/process`, { method: 'POST', body: photo });
      await r.arrayBuffer();
    }
    const seen = Number(await page.evaluate(() => document.body.dataset.scrapes));
    await page.waitForFunction((n) => Number(document.body.dataset.scrapes) >= n + 3, seen);
    await page.screenshot({ path: path.join(OUT, 'dashboard.png'), fullPage: true });
    await context.close();
    const relevant = problems.filter((p) => !/status of 415/.test(p));
    if (relevant.length) throw new Error(`problems in the page: ${relevant.join('; ')}`);
    for (const f of ['page-desktop.png', 'page-phone.png', 'page-adjusted.png', 'dashboard.png']) console.log(path.join(OUT, f));
  } finally {
    await browser.close();
    await server.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
