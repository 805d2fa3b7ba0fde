// The page's controls after a photo (issue 16, part 6), in the real Chromium against the real
// `cutout serve` and model (label `browser`): the before/after slider, zoom to 100 % with panning,
// the background picker, the effect controls and the crop — each redrawn through
// POST /api/v2/render, never the model again — and "download all". One photo through the model,
// then every control in turn on the same page.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { evalPhoto, startServer, launchBrowser, watchProblems } = require('./harness.cjs');

const PHOTO = evalPhoto('davis2016/images/horsejump-high_00025.jpg'); // 854x480: wider than the viewer
const PICTURE = evalPhoto('grabcut/images/sheep.jpg');                 // a background picture
const SIZE = { width: 854, height: 480 };
const EFFECTS = ['color', 'bw', 'popart', 'dither'];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cutout-controls-'));
let server;
let browser;
let context;
let page;
let problems;
const processed = [];  // every /api/v2/process the page sent

test.before(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page = await context.newPage();
  problems = watchProblems(page);
  // The pixels of an image the page shows, read back through a canvas (for the checks below).
  await page.addInitScript(() => {
    window.pixelsOf = (img, x = 0, y = 0, w = img.naturalWidth, h = img.naturalHeight) => {
      const c = document.createElement('canvas');
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const g = c.getContext('2d');
      g.drawImage(img, 0, 0);
      return g.getImageData(x, y, w, h).data;
    };
  });
  page.on('request', (r) => {
    if (r.url().includes('/api/v2/process')) processed.push(new URL(r.url()).searchParams);
  });
  await page.goto(`${server.url}/`);
  await page.waitForSelector('#model-state[data-state="ready"]');
  await page.setInputFiles('#file-input', PHOTO);
  await page.waitForSelector('#results:not([hidden])', { timeout: 60000 });
  await page.$$eval('#result-grid img, #viewer-after, #viewer-photo', (imgs) => Promise.all(imgs.map((i) => i.decode())));
  // The page scrolls smoothly to the results: let it come to rest before pointing at things.
  await page.waitForFunction(() => {
    const same = window.lastScrollY === window.scrollY;
    window.lastScrollY = window.scrollY;
    return same;
  }, null, { polling: 250 });
});

test.after(async () => {
  if (context) await context.close();
  if (browser) await browser.close();
  if (server) {
    const { code, signal } = await server.stop();
    assert.equal(code, 0, `the server exits cleanly on SIGTERM (${signal}): ${JSON.stringify(server.logs.slice(-3))}`);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

// Runs `action`, waits for the render it causes to be shown; returns that render's query. (A
// render answers 400 without the matte part, so each one shown carried it.)
async function rendered(action) {
  const before = Number(await page.evaluate(() => document.body.dataset.renders || 0));
  const [request] = await Promise.all([
    page.waitForRequest((r) => r.url().includes('/api/v2/render')),
    action(),
  ]);
  await page.waitForFunction((n) => Number(document.body.dataset.renders || 0) > n &&
    document.body.dataset.rendering === 'false', before);
  await page.$$eval('#result-grid img, #viewer-after', (imgs) => Promise.all(imgs.map((i) => i.decode())));
  return { q: new URL(request.url()).searchParams };
}

// RGBA of an output at (fx, fy), fractions of its size, read back from the image the page shows.
function pixel(effect, fx, fy) {
  return page.$eval(`#result-grid figure[data-effect="${effect}"] img`, (img, [x, y]) =>
    [...window.pixelsOf(img, Math.floor(x * (img.naturalWidth - 1)), Math.floor(y * (img.naturalHeight - 1)), 1, 1)],
  [fx, fy]);
}

// A digest of an output's pixels, to tell whether it changed.
function digest(effect) {
  return page.$eval(`#result-grid figure[data-effect="${effect}"] img`, (img) => {
    const a = window.pixelsOf(img);
    let h = 0;
    for (let i = 0; i < a.length; i++) h = (Math.imul(h, 31) + a[i]) | 0;
    return `${img.naturalWidth}x${img.naturalHeight}:${h}`;
  });
}

const sources = () => page.$$eval('#result-grid figure img', (imgs) =>
  Object.fromEntries(imgs.map((i) => [i.closest('figure').dataset.effect, i.src])));
const near = (a, b, tolerance = 3) => a.every((v, i) => Math.abs(v - b[i]) <= tolerance);

test('the results come with the matte, and nothing went through the model twice', async () => {
  assert.equal(processed.length, 1);
  assert.equal(processed[0].get('mask'), 'true', 'the page asks for the matte it re-renders with');
  assert.equal(processed[0].has('crop'), false, 'the photo is processed uncropped, so the matte fits it');
  assert.equal(await page.$$eval('#result-grid figure', (f) => f.length), 4, 'the mask is not shown as a result');
  assert.equal(await page.isVisible('#adjust'), true);
});

test('before/after: the slider moves the line between the photo and the cut-out', async () => {
  const state = () => page.evaluate(() => ({
    clip: document.getElementById('viewer-before').style.clipPath,
    line: document.getElementById('viewer-line').style.left,
    after: document.getElementById('viewer-after').getBoundingClientRect().toJSON(),
    photo: document.getElementById('viewer-photo').getBoundingClientRect().toJSON(),
  }));
  const half = await state();
  assert.equal(half.clip, 'inset(0px 50% 0px 0px)');
  assert.equal(half.line, '50%');
  // Uncropped, the photo lies exactly under the cut-out.
  for (const k of ['x', 'y', 'width', 'height']) assert.ok(Math.abs(half.after[k] - half.photo[k]) < 1, k);
  // What is on the screen: the top-left corner (background) is the photo at 100, the checkerboard
  // through the transparent cut-out at 0.
  const corner = async () => {
    const box = await page.$eval('#viewer-canvas', (c) => c.getBoundingClientRect().toJSON());
    return page.screenshot({ clip: { x: box.x + 4, y: box.y + 4, width: 40, height: 40 } });
  };
  await page.fill('#compare', '100');
  assert.equal((await state()).clip, 'inset(0px 0% 0px 0px)');
  const photoSide = await corner();
  await page.fill('#compare', '0');
  assert.equal((await state()).clip, 'inset(0px 100% 0px 0px)');
  const resultSide = await corner();
  assert.notDeepEqual(photoSide, resultSide, 'the slider changes what is shown');
  assert.equal(await page.getAttribute('#compare', 'aria-valuetext'), '0 % photo, 100 % result');
  await page.fill('#compare', '50');
});

test('zoom to 100 % shows one pixel per pixel, and dragging pans it; zoom again fits it', async () => {
  const geometry = () => page.evaluate(() => {
    const f = document.getElementById('viewer-frame');
    const c = document.getElementById('viewer-canvas');
    return { canvas: c.offsetWidth, canvasH: c.offsetHeight, frame: f.clientWidth, scrollW: f.scrollWidth,
             left: f.scrollLeft, top: f.scrollTop, pressed: document.getElementById('zoom').getAttribute('aria-pressed') };
  });
  const fit = await geometry();
  assert.ok(fit.canvas <= fit.frame && fit.canvas < SIZE.width, `fits: ${JSON.stringify(fit)}`);
  await page.click('#zoom');
  const zoomed = await geometry();
  assert.equal(zoomed.pressed, 'true');
  assert.equal(zoomed.canvas, SIZE.width, 'one CSS pixel per pixel');
  assert.equal(zoomed.canvasH, SIZE.height);
  assert.ok(zoomed.scrollW > zoomed.frame, 'wider than the frame: it scrolls');
  assert.ok(zoomed.left > 0, 'zoomed about the centre');
  // Drag 80 px to the right: the view moves 80 px to the left.
  const box = await page.$eval('#viewer-frame', (f) => f.getBoundingClientRect().toJSON());
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width / 2 + 40, box.y + box.height / 2, { steps: 4 });
  await page.mouse.move(box.x + box.width / 2 + 80, box.y + box.height / 2, { steps: 4 });
  await page.mouse.up();
  const panned = await geometry();
  assert.equal(panned.left, Math.max(0, zoomed.left - 80), `panned: ${zoomed.left} -> ${panned.left}`);
  // The keyboard pans the focused frame too.
  await page.focus('#viewer-frame');
  await page.keyboard.press('ArrowRight');
  await page.waitForFunction((x) => document.getElementById('viewer-frame').scrollLeft > x, panned.left);
  await page.click('#zoom');
  const back = await geometry();
  assert.equal(back.pressed, 'false');
  assert.equal(back.canvas, fit.canvas);
  // A double click zooms in about the point clicked: that point ends up in the middle.
  const canvas = await page.$eval('#viewer-canvas', (c) => c.getBoundingClientRect().toJSON());
  await page.mouse.dblclick(canvas.x + canvas.width * 0.9, canvas.y + canvas.height / 2);
  const dbl = await geometry();
  assert.equal(dbl.canvas, SIZE.width);
  assert.ok(Math.abs(dbl.left + dbl.frame / 2 - 0.9 * SIZE.width) < 8 || dbl.left === dbl.scrollW - dbl.frame,
    `the clicked point is centred: ${JSON.stringify(dbl)}`);
  await page.click('#zoom');
});

test('the background picker: white, black, a colour, the blurred photo, a picture, transparent again', async () => {
  const corner = () => pixel('color', 0.01, 0.01);  // background in this photo
  assert.equal((await corner())[3], 0, 'transparent to begin with');

  let r = await rendered(() => page.check('input[name="bg"][value="white"]'));
  assert.equal(r.q.get('background'), 'white');
  assert.deepEqual(r.q.get('effects').split(','), EFFECTS, 'a background redraws every output');
  assert.ok(near(await corner(), [255, 255, 255, 255]));

  r = await rendered(() => page.check('input[name="bg"][value="black"]'));
  assert.equal(r.q.get('background'), 'black');
  assert.ok(near(await corner(), [0, 0, 0, 255]));

  r = await rendered(() => page.fill('#bg-colour', '#2a9d8f'));
  assert.equal(r.q.get('background'), '#2a9d8f');
  assert.equal(await page.isChecked('input[name="bg"][value="colour"]'), true, 'picking a colour selects it');
  assert.ok(near(await corner(), [0x2a, 0x9d, 0x8f, 255]));

  r = await rendered(() => page.check('input[name="bg"][value="blur"]'));
  assert.equal(r.q.get('background'), 'blur');
  const radius = Number(r.q.get('blur_radius'));
  assert.ok(radius > 0);
  const blurred = await corner();
  assert.equal(blurred[3], 255, 'the blurred photo is opaque behind the subject');
  r = await rendered(() => page.fill('#bg-blur', '15'));
  assert.ok(Number(r.q.get('blur_radius')) > radius, 'the strength control sets the radius');
  assert.equal(r.q.get('effects'), 'color', 'only the cut-out has the photo behind it');

  r = await rendered(() => page.setInputFiles('#bg-picture', PICTURE));
  assert.equal(r.q.has('background'), false);
  assert.equal(await page.isChecked('input[name="bg"][value="picture"]'), true);
  const picture = await corner();
  assert.equal(picture[3], 255);
  assert.ok(!near(picture, blurred, 10), `the picture, not the blur: ${picture} vs ${blurred}`);

  r = await rendered(() => page.check('#opt-shadow'));
  assert.equal(r.q.get('shadow'), 'true');
  assert.equal(r.q.get('effects'), 'color');

  r = await rendered(() => page.check('input[name="bg"][value="transparent"]'));
  assert.equal(r.q.get('background'), 'transparent');
  r = await rendered(() => page.uncheck('#opt-shadow'));
  assert.equal((await corner())[3], 0, 'transparent again');
});

test('effect controls redraw only their own output', async () => {
  const cases = [
    { effect: 'bw', name: 'bw_strength', value: '2', act: () => page.fill('#fx-bw-strength', '2') },
    { effect: 'popart', name: 'popart_palette', value: 'sunset', act: () => page.selectOption('#fx-popart-palette', 'sunset') },
    { effect: 'popart', name: 'popart_grid', value: '2x2', act: () => page.selectOption('#fx-popart-grid', '2x2') },
    { effect: 'dither', name: 'dither_method', value: 'bayer', act: () => page.selectOption('#fx-dither-method', 'bayer') },
  ];
  for (const c of cases) {
    const before = await sources();
    const probe = await digest(c.effect);
    const r = await rendered(c.act);
    assert.equal(r.q.get('effects'), c.effect, c.name);
    assert.equal(r.q.get(c.name), c.value, c.name);
    const after = await sources();
    for (const e of EFFECTS) {
      if (e === c.effect) assert.notEqual(after[e], before[e], `${c.name}: ${e} redrawn`);
      else assert.equal(after[e], before[e], `${c.name}: ${e} kept`);
    }
    assert.notEqual(await digest(c.effect), probe, `${c.name} changes the picture`);
  }
  assert.equal(await page.textContent('#fx-bw-strength-value'), '2.0');
  // The 2x2 grid: four panels of four palettes, so the opaque colours of each quarter differ.
  const panels = await page.$eval('#result-grid figure[data-effect="popart"] img', (img) => {
    const w = img.naturalWidth >> 1, h = img.naturalHeight >> 1;
    return [[0, 0], [w, 0], [0, h], [w, h]].map(([x, y]) => {
      const a = window.pixelsOf(img, x, y, w, h);
      const colours = new Set();
      for (let i = 0; i < a.length; i += 4) if (a[i + 3] === 255) colours.add((a[i] << 16) | (a[i + 1] << 8) | a[i + 2]);
      return [...colours].sort().join();
    });
  });
  assert.ok(panels.every((p) => p.length > 0), 'each panel shows the subject');
  assert.equal(new Set(panels).size, 4, 'four palettes');
  assert.match(await page.textContent('#render-state'), /^Redrawn in \d+ ms on the server$/);
});

test('crop to the subject: every output shrinks to the subject and the photo still lines up', async () => {
  const r = await rendered(() => page.check('#opt-crop'));
  assert.equal(r.q.get('crop'), 'subject');
  const sizes = await page.$$eval('#result-grid figure img', (imgs) => imgs.map((i) => [i.naturalWidth, i.naturalHeight]));
  for (const [w, h] of sizes) assert.ok(w < SIZE.width && h <= SIZE.height && w > 100, `cropped: ${w}x${h}`);
  const geo = await page.evaluate(() => ({
    after: document.getElementById('viewer-after').getBoundingClientRect().toJSON(),
    photo: document.getElementById('viewer-photo').getBoundingClientRect().toJSON(),
  }));
  // The whole photo is larger than the cropped view and spans it, scaled like the cut-out.
  const scale = geo.after.width / sizes[0][0];
  assert.ok(Math.abs(geo.photo.width - SIZE.width * scale) < 2, JSON.stringify(geo));
  assert.ok(geo.photo.x <= geo.after.x + 0.5 && geo.photo.right >= geo.after.right - 0.5);
  await rendered(() => page.uncheck('#opt-crop'));
  const full = await page.$eval('#result-grid figure[data-effect="color"] img', (i) => [i.naturalWidth, i.naturalHeight]);
  assert.deepEqual(full, [SIZE.width, SIZE.height]);
});

test('download all: one zip of every output as the controls set them, and the matte', async () => {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-all')]);
  assert.equal(download.suggestedFilename(), 'horsejump-high_00025-cutout.zip');
  const file = path.join(tmp, 'all.zip');
  await download.saveAs(file);
  const names = zipNames(fs.readFileSync(file));
  assert.deepEqual(names.sort(), ['bw.png', 'color.png', 'dither.png', 'mask.png', 'popart.png']);
  assert.equal(processed.length, 1, 'no control sent the photo through the model again');
  assert.deepEqual(problems, []);
});

test('a new refinement does go back to the model, and a crop chosen before follows it', async () => {
  await rendered(() => page.check('#opt-crop'));
  // The photo again through the model (uncropped, so its matte fits it), then the crop, a render.
  const r = await rendered(() => Promise.all([
    page.waitForRequest((q) => q.url().includes('/api/v2/process')),
    page.selectOption('#opt-refine', 'none'),
  ]));
  assert.equal(r.q.get('crop'), 'subject');
  const width = await page.$eval('#result-grid figure[data-effect="color"] img', (i) => i.naturalWidth);
  assert.ok(width < SIZE.width, `cropped after the new run: ${width}`);
  assert.equal(processed.length, 2);
  assert.equal(processed[1].get('refine'), 'none');
  assert.equal(processed[1].get('dither_method'), 'bayer', 'the controls carry over to the new run');
  assert.deepEqual(problems, []);
});

// The file names in a zip's central directory.
function zipNames(zip) {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  assert.ok(eocd >= 0, 'a zip');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const names = [];
  for (let i = 0; i < count; i++) {
    assert.equal(zip.readUInt32LE(at), 0x02014b50);
    const nameLength = zip.readUInt16LE(at + 28);
    names.push(zip.toString('utf8', at + 46, at + 46 + nameLength));
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return names;
}
