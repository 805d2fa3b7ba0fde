// The cutout page: warm the service, send a photo, follow its real stages (server-sent events of
// POST /api/v2/process?stream=true), show the four results. Then every adjustment (background,
// effect parameters, crop, format) is redrawn by POST /api/v2/render from the photo and the matte
// the page already holds: no second trip through the model. No libraries, no build step.
'use strict';

(function () {
  const EFFECTS = [
    { id: 'color', title: 'Cut-out', alt: 'cut out on a transparent background' },
    { id: 'bw', title: 'Black & white', alt: 'as an enhanced black and white cut-out' },
    { id: 'popart', title: 'Pop art', alt: 'as a pop-art poster' },
    { id: 'dither', title: 'Dithered print', alt: 'as a dithered one-bit print' },
  ];
  const MIME_EXTENSION = { 'image/png': 'png', 'image/webp': 'webp', 'image/jpeg': 'jpg' };

  // Where the progress bar stands after each stage. Segmentation is most of the time, so the bar
  // waits at "decoded" while the model runs: it moves only on real events.
  const PROGRESS = { uploaded: 12, queued: 16, decoded: 22, segmented: 80, result: 100 };

  const $ = (id) => document.getElementById(id);
  const state = {
    status: null,      // last /api/v2/status
    busy: false,
    file: null,        // the photo being (or last) processed
    urls: [],          // object URLs to revoke when replaced
    retryTimer: null,
    xhr: null,
    mask: null,        // the matte of state.file (the mask output): what /api/v2/render needs
    maskBox: null,     // the subject's box in the matte, for the "before" side of a cropped view
    outputs: {},       // effect -> { blob, url, bytes, mime } as shown now
    size: null,        // { width, height } of the outputs shown now
    photoUrl: null,    // the photo, for the "before" side of the slider
    render: { timer: null, abort: null, effects: new Set(), seq: 0 },
    zoomed: false,
  };

  // ---- Model state -----------------------------------------------------------------------------

  function showModelState(kind, text) {
    $('model-state').dataset.state = kind;
    $('model-state-text').textContent = text;
  }

  function describeStatus(s) {
    switch (s.model_status) {
      case 'ready': return ['ready', `Ready · ${s.model} on ${s.provider}`];
      case 'loading': return ['loading', 'Loading the model…'];
      case 'warming': return ['loading', 'Warming up the model…'];
      case 'failed': return ['failed', 'The model failed to load: photos cannot be processed'];
      default: return ['unknown', `Model ${s.model_status}`];
    }
  }

  async function fetchStatus() {
    const r = await fetch('/api/v2/status', { cache: 'no-store' });
    if (r.status === 401) throw new ApiError(401, 'unauthorized', 'This service needs an API key.');
    if (!r.ok) throw new ApiError(r.status, 'status', `The service answered ${r.status}.`);
    return r.json();
  }

  function applyStatus(s) {
    state.status = s;
    const [kind, text] = describeStatus(s);
    showModelState(kind, text);
    if (s.max_body_bytes) $('limit-bytes').textContent = formatBytes(s.max_body_bytes);
    if (s.max_pixels) $('limit-pixels').textContent = `${formatNumber(s.max_pixels / 1e6)} megapixels`;
    if (s.version) $('version').textContent = `cutout ${s.version}`;
  }

  // Starts the model warming (it may be a cold instance), then polls until it is ready or failed.
  async function warmUp() {
    try {
      await fetch('/api/v2/warmup?wait=false', { method: 'POST' });
    } catch (e) {
      showModelState('failed', 'Cannot reach the service');
    }
    for (let delay = 500; ; delay = Math.min(delay * 1.5, 5000)) {
      try {
        const s = await fetchStatus();
        applyStatus(s);
        if (s.model_status === 'ready' || s.model_status === 'failed') return;
      } catch (e) {
        showModelState(e.status === 401 ? 'failed' : 'unknown', e.status === 401 ? e.message : 'Cannot reach the service');
        if (e.status === 401) return;
      }
      await sleep(delay);
    }
  }

  // ---- Errors ----------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message, retryAfter) {
      super(message);
      this.status = status;
      this.code = code;
      this.retryAfter = retryAfter || 0;
    }
  }

  // What a person should read for each error of SPEC §3 (the server's message adds the detail).
  function explain(err) {
    const limits = state.status || {};
    switch (err.code) {
      case 'payload_too_large':
        return ['The file is too large', `Photos up to ${formatBytes(limits.max_body_bytes || 25 << 20)} can be sent. Try a smaller or more compressed version.`];
      case 'image_too_large':
        return ['The image has too many pixels', `${err.message}. Images up to ${formatNumber((limits.max_pixels || 5e7) / 1e6)} megapixels can be processed; try a smaller version.`];
      case 'unsupported_media_type':
        return ['This is not a photo we can read', 'Send a JPEG, PNG, WebP, BMP or TIFF image.'];
      case 'undecodable_image':
        return ['The image could not be read', 'The file seems to be damaged or incomplete. Try exporting it again.'];
      case 'overloaded':
        return ['The service is busy', 'Too many photos are waiting right now.'];
      case 'not_ready':
        return ['The service cannot process photos', `The model is not available: ${err.message}.`];
      case 'timeout':
        return ['That took too long', 'The service did not finish in time. Try again, or send a smaller photo.'];
      case 'unauthorized':
        return ['An API key is needed', 'This service only accepts requests with an API key.'];
      case 'bad_request':
        return ['The request was refused', err.message];
      case 'network':
        return ['The service could not be reached', 'Check your connection and try again.'];
      default:
        return ['Something went wrong', err.message || 'The service failed to process the photo.'];
    }
  }

  // `retryable`: the error is about processing state.file, so it may be sent again (by the
  // button, or after a 429's countdown). A refused share is only explained.
  function showError(err, retryable = true) {
    clearRetry();
    const [title, message] = explain(err);
    $('error').dataset.code = err.code || 'unknown';
    $('error-title').textContent = title;
    $('error-message').textContent = message;
    retryable = retryable && Boolean(state.file) && ['overloaded', 'timeout', 'network', 'internal'].includes(err.code);
    $('error-retry').hidden = !retryable;
    $('error').hidden = false;
    if (err.code === 'overloaded') {
      const seconds = Math.max(1, err.retryAfter || 5);
      if (retryable) startRetryCountdown(seconds);
      else $('error-message').textContent = `${message} Try again in ${seconds} s.`;
    }
  }

  // 429: count down from Retry-After, then send the same photo again.
  function startRetryCountdown(seconds) {
    let left = seconds;
    const base = $('error-message').textContent;
    const tick = () => {
      if (left <= 0) {
        clearRetry();
        hideError();
        process(state.file);
        return;
      }
      $('error-message').textContent = `${base} Retrying in ${left} s…`;
      left -= 1;
      state.retryTimer = setTimeout(tick, 1000);
    };
    tick();
  }

  function clearRetry() {
    if (state.retryTimer) clearTimeout(state.retryTimer);
    state.retryTimer = null;
  }

  function hideError() {
    clearRetry();
    $('error').hidden = true;
  }

  // ---- Processing ------------------------------------------------------------------------------

  function setProgress(value, text) {
    $('progress').value = value;
    $('progress-text').textContent = text;
  }

  function addStage(text) {
    const li = document.createElement('li');
    li.textContent = text;
    $('stages').appendChild(li);
  }

  // The parameters both /api/v2/process and /api/v2/render take from the controls. The photo is
  // processed uncropped, so that its mask fits it; a crop is then a render.
  function renderParams(withCrop) {
    const q = new URLSearchParams({
      format: $('opt-format').value,
      decontaminate: String($('opt-decontaminate').checked),
      bw_strength: $('fx-bw-strength').value,
      popart_palette: $('fx-popart-palette').value,
      popart_grid: $('fx-popart-grid').value,
      dither_method: $('fx-dither-method').value,
    });
    const bg = backgroundChoice();
    if (bg === 'colour') q.set('background', $('bg-colour').value);
    else if (bg === 'blur') {
      q.set('background', 'blur');
      q.set('blur_radius', String(blurRadius()));
    } else if (bg !== 'picture') q.set('background', bg);
    if ($('opt-shadow').checked) q.set('shadow', 'true');
    if (withCrop && $('opt-crop').checked) q.set('crop', 'subject');
    return q;
  }

  function backgroundChoice() {
    const picked = document.querySelector('input[name="bg"]:checked');
    const value = picked ? picked.value : 'transparent';
    return value === 'picture' && !$('bg-picture').files[0] ? 'transparent' : value;
  }

  // The blur control is a strength from 1 to 20: a radius of 0.5 % of the photo's longest side each.
  function blurRadius() {
    const size = state.size || { width: 1000, height: 1000 };
    return Math.max(1, Math.round((Math.max(size.width, size.height) * Number($('bg-blur').value)) / 200));
  }

  function appendPicture(form) {
    const picture = $('bg-picture').files[0];
    if (backgroundChoice() === 'picture' && picture) form.append('background_image', picture, picture.name || 'background');
  }

  function requestUrl() {
    const q = renderParams(false);
    q.set('stream', 'true');
    q.set('refine', $('opt-refine').value);
    q.set('mask', 'true');
    return `/api/v2/process?${q}`;
  }

  // Sends the photo and follows its events. Resolves with the result JSON; rejects with ApiError.
  function send(file, onEvent) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      state.xhr = xhr;
      let seen = 0;
      let result = null;
      let failure = null;
      // Server-sent events arrive as text; each event ends with a blank line.
      const readEvents = () => {
        const text = xhr.responseText;
        let end;
        while ((end = text.indexOf('\n\n', seen)) !== -1) {
          const block = text.slice(seen, end);
          seen = end + 2;
          let name = 'message';
          const data = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) name = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
          }
          let payload = null;
          try {
            payload = JSON.parse(data.join('\n'));
          } catch (e) {
            continue;
          }
          if (name === 'result') result = payload;
          else if (name === 'error') failure = errorFromBody(500, payload, 0);
          else onEvent(name, payload);
        }
      };
      xhr.open('POST', requestUrl());
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) {
          setProgress(Math.round((e.loaded / e.total) * PROGRESS.uploaded), `Uploading… ${Math.round((100 * e.loaded) / e.total)} %`);
        }
      };
      xhr.upload.onload = () => onEvent('uploaded', {});
      xhr.onprogress = () => {
        if (xhr.status === 200) readEvents();
      };
      xhr.onload = () => {
        state.xhr = null;
        if (xhr.status !== 200) {
          let body = null;
          try {
            body = JSON.parse(xhr.responseText);
          } catch (e) {
            body = null;
          }
          reject(errorFromBody(xhr.status, body, Number(xhr.getResponseHeader('Retry-After')) || 0));
          return;
        }
        readEvents();
        if (failure) reject(failure);
        else if (result) resolve(result);
        else reject(new ApiError(500, 'internal', 'The answer ended before the result.'));
      };
      xhr.onerror = () => {
        state.xhr = null;
        reject(new ApiError(0, 'network', 'network error'));
      };
      const form = new FormData();
      form.append('image', file, file.name || 'photo');
      appendPicture(form);
      xhr.send(form);
    });
  }

  function errorFromBody(status, body, retryAfter) {
    const e = body && body.error;
    if (e && e.code) return new ApiError(status, e.code, e.message || '', retryAfter);
    return new ApiError(status, status >= 500 ? 'internal' : 'bad_request', `The service answered ${status}.`, retryAfter);
  }

  async function process(file) {
    if (!file || state.busy) return;
    hideError();
    const limits = state.status || {};
    if (limits.max_body_bytes && file.size > limits.max_body_bytes) {
      state.file = null;
      showError(new ApiError(413, 'payload_too_large', ''));
      return;
    }
    cancelRender();
    state.busy = true;
    state.file = file;
    state.mask = null;
    document.body.dataset.busy = 'true';
    $('file-input').disabled = true;
    revokeUrls();
    $('results').hidden = true;
    $('work').hidden = false;
    $('work-verb').textContent = 'Working on';
    $('work-name').textContent = file.name || 'your photo';
    const preview = $('work-preview');
    preview.hidden = false;
    preview.onerror = () => { preview.hidden = true; };  // TIFF and BMP may not display
    preview.src = keepUrl(URL.createObjectURL(file));
    $('stages').replaceChildren();
    setProgress(0, 'Uploading…');
    const started = performance.now();
    let effectsDone = 0;
    let segmentTimer = null;
    const stopSegmentTimer = () => {
      if (segmentTimer) clearInterval(segmentTimer);
      segmentTimer = null;
    };
    try {
      const result = await send(file, (name, data) => {
        switch (name) {
          case 'uploaded':
            setProgress(PROGRESS.uploaded, 'Uploaded · waiting for the service…');
            break;
          case 'queued':
            setProgress(PROGRESS.queued, data.position > 0 ? `In the queue · ${data.position} ahead` : 'Starting…');
            addStage(data.cold_start ? 'Queued (the model is still loading)' : data.position > 0 ? `Queued behind ${data.position}` : 'Queued');
            break;
          case 'decoded': {
            setProgress(PROGRESS.decoded, 'Finding the subject…');
            addStage(`Decoded ${data.width} × ${data.height}`);
            const t0 = performance.now();
            segmentTimer = setInterval(() => {
              $('progress-text').textContent = `Finding the subject… ${((performance.now() - t0) / 1000).toFixed(1)} s`;
            }, 200);
            break;
          }
          case 'segmented':
            stopSegmentTimer();
            setProgress(PROGRESS.segmented, 'Making the pictures…');
            addStage(`Subject found in ${formatMs(data.ms)}`);
            break;
          case 'effect': {
            if (data.effect === 'mask') break;  // the matte the page keeps for re-rendering
            effectsDone += 1;
            const total = EFFECTS.length;
            const step = (PROGRESS.result - PROGRESS.segmented) / (total + 1);
            setProgress(Math.round(PROGRESS.segmented + effectsDone * step), `Making the pictures… ${effectsDone} of ${total}`);
            addStage(`${titleOf(data.effect)} ready`);
            break;
          }
          default:
            break;
        }
      });
      stopSegmentTimer();
      const seconds = (performance.now() - started) / 1000;
      setProgress(PROGRESS.result, `Done in ${seconds.toFixed(1)} s`);
      addStage('Done');
      $('work-verb').textContent = 'Finished';
      showResults(file, result);
    } catch (err) {
      stopSegmentTimer();
      setProgress($('progress').value, 'Stopped');
      $('work').hidden = true;
      showError(err);
    } finally {
      state.busy = false;
      document.body.dataset.busy = 'false';
      $('file-input').disabled = false;
      $('file-input').value = '';
    }
  }

  function titleOf(id) {
    const e = EFFECTS.find((x) => x.id === id);
    return e ? e.title : id;
  }

  // ---- Results ---------------------------------------------------------------------------------

  function base64ToBlob(data, mime) {
    const bytes = atob(data);
    const out = new Uint8Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) out[i] = bytes.charCodeAt(i);
    return new Blob([out], { type: mime });
  }

  function stemOf(file) {
    return (file.name || 'photo').replace(/\.[^.]*$/, '') || 'photo';
  }

  // The cards of a new photo (filled by applyOutputs), the matte kept for re-rendering, the photo
  // for the "before" side of the viewer.
  function showResults(file, result) {
    const grid = $('result-grid');
    grid.replaceChildren();
    $('share-out').hidden = true;
    const canShare = Boolean(state.status && state.status.share_store);
    for (const effect of EFFECTS) {
      const node = $('result-template').content.firstElementChild.cloneNode(true);
      node.dataset.effect = effect.id;
      node.querySelector('.result-name').textContent = effect.title;
      const frame = node.querySelector('.checker');
      frame.title = `Show the ${effect.title.toLowerCase()} above`;
      frame.addEventListener('click', () => selectView(effect.id));
      const share = node.querySelector('button.share');
      share.hidden = !canShare;
      share.setAttribute('aria-label', `Share the ${effect.title.toLowerCase()}`);
      share.addEventListener('click', () => shareImage(state.outputs[effect.id].blob, share));
      grid.appendChild(node);
    }
    const mask = result.outputs && result.outputs.mask;
    state.mask = mask ? base64ToBlob(mask.data, mask.mime) : null;
    state.maskBox = null;
    const photo = $('viewer-photo');
    $('viewer-before').hidden = false;
    $('compare').disabled = false;
    photo.onerror = () => {  // a TIFF the browser cannot show: no "before" side
      $('viewer-before').hidden = true;
      $('compare').disabled = true;
    };
    photo.src = keepUrl(URL.createObjectURL(file));
    applyOutputs(result, false);
    const t = result.timings_ms || {};
    $('results-summary').textContent =
      `${result.width} × ${result.height} · subject found in ${formatMs(t.inference)} · ${formatMs(t.total)} on the server` +
      (result.cold_start ? ' (the model was starting)' : '');
    $('render-state').textContent = '';
    $('results').hidden = false;
    $('results-title').focus({ preventScroll: true });
    $('results').scrollIntoView({ behavior: 'smooth', block: 'start' });
    if (state.mask) {
      subjectBox(state.mask).then((box) => {
        state.maskBox = box;
        layOutViewer();
      }, () => {});
    }
    $('adjust').hidden = !state.mask;
    if ($('opt-crop').checked) scheduleRender('all', 0);
  }

  // Shows the outputs of a process or render answer (all four, or the ones it redrew).
  function applyOutputs(result, cropped) {
    const file = state.file;
    state.size = { width: result.width, height: result.height };
    state.cropped = cropped;
    for (const effect of EFFECTS) {
      const out = result.outputs && result.outputs[effect.id];
      const node = $('result-grid').querySelector(`figure[data-effect="${effect.id}"]`);
      if (!out || !node) continue;
      const old = state.outputs[effect.id];
      if (old) URL.revokeObjectURL(old.url);
      const blob = base64ToBlob(out.data, out.mime);
      const url = URL.createObjectURL(blob);
      state.outputs[effect.id] = { blob, url, mime: out.mime, width: result.width, height: result.height };
      const img = node.querySelector('img');
      img.src = url;
      img.alt = `${file.name || 'The photo'} ${effect.alt}`;
      img.width = result.width;
      img.height = result.height;
      // The frame takes the picture's shape (within reason), so landscape photos are not letterboxed.
      node.querySelector('.checker').style.aspectRatio = String(Math.min(2, Math.max(0.5, result.width / result.height)));
      const extension = MIME_EXTENSION[out.mime] || 'bin';
      node.querySelector('.result-size').textContent = `${formatBytes(out.bytes)} · ${MIME_EXTENSION[out.mime] || out.mime}`;
      const link = node.querySelector('a.download');
      link.href = url;
      link.download = `${stemOf(file)}-${effect.id}.${extension}`;
      link.setAttribute('aria-label', `Download the ${effect.title.toLowerCase()} (${link.download})`);
    }
    layOutViewer();
  }

  // ---- The viewer: one result large, before/after, zoom to 100 % and panning -------------------

  function selectView(id) {
    $('view-effect').value = id;
    layOutViewer();
    $('viewer-frame').scrollIntoView({ behavior: 'smooth', block: 'nearest' });
  }

  function layOutViewer() {
    const id = $('view-effect').value;
    const out = state.outputs[id];
    if (!out) return;
    const after = $('viewer-after');
    if (after.getAttribute('src') !== out.url) after.src = out.url;
    after.alt = `${state.file ? state.file.name || 'The photo' : 'The photo'} ${EFFECTS.find((e) => e.id === id).alt}`;
    const canvas = $('viewer-canvas');
    canvas.style.setProperty('--ratio', String(out.width / out.height));
    canvas.style.width = state.zoomed ? `${out.width}px` : '';
    // The photo behind, placed so that it lines up with a cropped result: the crop is the
    // subject's box in the matte (alpha of at least 16, as the server crops).
    const b = state.cropped && state.maskBox ? state.maskBox : { x: 0, y: 0, w: 1, h: 1 };
    const photo = $('viewer-photo').style;
    photo.width = `${100 / b.w}%`;
    photo.height = `${100 / b.h}%`;
    photo.left = `${(-100 * b.x) / b.w}%`;
    photo.top = `${(-100 * b.y) / b.h}%`;
    applyCompare();
  }

  function applyCompare() {
    const v = Number($('compare').value);
    $('viewer-before').style.clipPath = `inset(0 ${100 - v}% 0 0)`;
    $('viewer-line').style.left = `${v}%`;
    $('viewer-line').hidden = v <= 0 || v >= 100 || $('viewer-before').hidden;
    $('compare').setAttribute('aria-valuetext', `${v} % photo, ${100 - v} % result`);
  }

  // Between fitting the frame and one pixel of the result per CSS pixel, keeping the point at
  // (fx, fy) of the picture (fractions; the centre by default) in the middle of the frame.
  function setZoom(zoomed, fx, fy) {
    const frame = $('viewer-frame');
    const canvas = $('viewer-canvas');
    if (fx === undefined) {
      fx = (frame.scrollLeft + frame.clientWidth / 2) / canvas.offsetWidth;
      fy = (frame.scrollTop + frame.clientHeight / 2) / canvas.offsetHeight;
    }
    state.zoomed = zoomed;
    frame.classList.toggle('zoomed', zoomed);
    $('zoom').setAttribute('aria-pressed', String(zoomed));
    $('zoom').textContent = zoomed ? 'Fit to the frame' : 'Zoom to 100 %';
    layOutViewer();
    frame.scrollLeft = fx * canvas.offsetWidth - frame.clientWidth / 2;
    frame.scrollTop = fy * canvas.offsetHeight - frame.clientHeight / 2;
  }

  // Dragging moves a zoomed picture (the arrow keys scroll the focused frame too).
  function enablePanning(frame) {
    let drag = null;
    frame.addEventListener('pointerdown', (e) => {
      if (!state.zoomed || e.button !== 0) return;
      drag = { x: e.clientX, y: e.clientY, left: frame.scrollLeft, top: frame.scrollTop };
      frame.setPointerCapture(e.pointerId);
      frame.classList.add('panning');
      e.preventDefault();
    });
    frame.addEventListener('pointermove', (e) => {
      if (!drag) return;
      frame.scrollLeft = drag.left - (e.clientX - drag.x);
      frame.scrollTop = drag.top - (e.clientY - drag.y);
    });
    const stop = () => {
      drag = null;
      frame.classList.remove('panning');
    };
    frame.addEventListener('pointerup', stop);
    frame.addEventListener('pointercancel', stop);
    frame.addEventListener('dblclick', (e) => {
      const r = $('viewer-canvas').getBoundingClientRect();
      setZoom(!state.zoomed, (e.clientX - r.left) / r.width, (e.clientY - r.top) / r.height);
    });
  }

  // The subject's box in the matte, as fractions of its size; the whole matte when it is empty.
  async function subjectBox(maskBlob) {
    const bitmap = await createImageBitmap(maskBlob);
    const c = document.createElement('canvas');
    c.width = bitmap.width;
    c.height = bitmap.height;
    const g = c.getContext('2d');
    g.drawImage(bitmap, 0, 0);
    const a = g.getImageData(0, 0, c.width, c.height).data;
    let x0 = c.width, y0 = c.height, x1 = -1, y1 = -1;
    for (let y = 0; y < c.height; y++) {
      for (let x = 0; x < c.width; x++) {
        if (a[(y * c.width + x) * 4] < 16) continue;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
    if (x1 < 0) return { x: 0, y: 0, w: 1, h: 1 };
    return { x: x0 / c.width, y: y0 / c.height, w: (x1 + 1 - x0) / c.width, h: (y1 + 1 - y0) / c.height };
  }

  // ---- Re-rendering: POST /api/v2/render with the photo and its matte ---------------------------

  // `effects`: the outputs a change affects ('all', or one effect): the others stay as they are.
  // Changes in quick succession become one render; a newer render cancels an older one.
  function scheduleRender(effects, delay = 150) {
    if (!state.mask || !state.file) return;  // no matte yet (or a new photo on its way)
    const r = state.render;
    for (const id of effects === 'all' ? EFFECTS.map((e) => e.id) : [effects]) r.effects.add(id);
    clearTimeout(r.timer);
    r.timer = setTimeout(runRender, delay);
  }

  function cancelRender() {
    const r = state.render;
    clearTimeout(r.timer);
    if (r.abort) r.abort.abort();
    r.timer = null;
    r.abort = null;
    r.effects = new Set();
    r.inflight = null;
    document.body.dataset.rendering = 'false';
  }

  function renderForm() {
    const form = new FormData();
    form.append('image', state.file, state.file.name || 'photo');
    form.append('matte', state.mask, 'matte.png');
    appendPicture(form);
    return form;
  }

  async function postRender(q, signal) {
    const res = await fetch(`/api/v2/render?${q}`, { method: 'POST', body: renderForm(), signal });
    if (res.ok) return res;
    let body = null;
    try {
      body = await res.json();
    } catch (e) {
      body = null;
    }
    throw errorFromBody(res.status, body, Number(res.headers.get('Retry-After')) || 0);
  }

  async function runRender() {
    const r = state.render;
    r.timer = null;
    const wanted = new Set([...r.effects, ...(r.inflight || [])]);  // a cancelled render's too
    r.effects = new Set();
    if (r.abort) r.abort.abort();
    r.abort = new AbortController();
    r.inflight = wanted;
    const seq = ++r.seq;
    const q = renderParams(true);
    q.set('effects', EFFECTS.map((e) => e.id).filter((id) => wanted.has(id)).join(','));
    document.body.dataset.rendering = 'true';
    $('render-state').textContent = 'Redrawing…';
    try {
      const body = await (await postRender(q, r.abort.signal)).json();
      if (seq !== r.seq) return;
      applyOutputs(body, q.has('crop'));
      const t = body.timings_ms || {};
      $('render-state').textContent = `Redrawn in ${formatMs(t.total)} on the server`;
    } catch (err) {
      if (seq !== r.seq || err.name === 'AbortError') return;
      $('render-state').textContent = 'Not redrawn';
      showError(err instanceof ApiError ? err : new ApiError(0, 'network', 'network error'), false);
    } finally {
      if (seq === r.seq) {
        r.abort = null;
        r.inflight = null;
        document.body.dataset.rendering = 'false';
        state.rendersDone = (state.rendersDone || 0) + 1;
        document.body.dataset.renders = String(state.rendersDone);
      }
    }
  }

  // Every output as the controls set them now, and the matte, in one zip (a render: no model).
  async function downloadAll() {
    if (!state.mask) return;
    const button = $('download-all');
    button.disabled = true;
    try {
      const q = renderParams(true);
      q.set('response', 'zip');
      q.set('mask', 'true');
      const blob = await (await postRender(q)).blob();
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = `${stemOf(state.file)}-cutout.zip`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (err) {
      if (err.name !== 'AbortError') showError(err instanceof ApiError ? err : new ApiError(0, 'network', 'network error'), false);
    } finally {
      button.disabled = false;
    }
  }

  async function shareImage(blob, button) {
    button.disabled = true;
    try {
      const r = await fetch('/api/v2/share-image', { method: 'POST', body: blob, headers: { 'Content-Type': blob.type } });
      let body = null;
      try {
        body = await r.json();
      } catch (e) {
        body = null;
      }
      if (r.status !== 201 || !body || !body.url) {
        throw errorFromBody(r.status, body, Number(r.headers.get('Retry-After')) || 0);
      }
      const url = new URL(body.url, window.location.href).href;
      $('share-url').value = url;
      $('share-out').hidden = false;
      $('share-url').focus();
      $('share-url').select();
    } catch (err) {
      showError(err instanceof ApiError ? err : new ApiError(0, 'network', 'network error'), false);
    } finally {
      button.disabled = false;
    }
  }

  // ---- Helpers ---------------------------------------------------------------------------------

  function keepUrl(url) {
    state.urls.push(url);
    return url;
  }

  function revokeUrls() {
    for (const u of state.urls) URL.revokeObjectURL(u);
    for (const o of Object.values(state.outputs)) URL.revokeObjectURL(o.url);
    state.urls = [];
    state.outputs = {};
  }

  function sleep(ms) {
    return new Promise((r) => setTimeout(r, ms));
  }

  function formatBytes(n) {
    if (n >= 1 << 20) return `${formatNumber(n / (1 << 20))} MB`;
    if (n >= 1 << 10) return `${Math.round(n / (1 << 10))} KB`;
    return `${n} bytes`;
  }

  function formatNumber(x) {
    return Number.isInteger(x) ? String(x) : x.toFixed(1);
  }

  function formatMs(ms) {
    if (typeof ms !== 'number') return '—';
    return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
  }

  // ---- Wiring ----------------------------------------------------------------------------------

  function firstImage(items) {
    for (const f of items || []) if (f && f.type !== undefined) return f;
    return null;
  }

  // The viewer and the controls that redraw the results.
  function wireAdjustments() {
    $('compare').addEventListener('input', applyCompare);
    $('view-effect').addEventListener('change', layOutViewer);
    $('zoom').addEventListener('click', () => setZoom(!state.zoomed));
    enablePanning($('viewer-frame'));
    const on = (id, event, effects) => $(id).addEventListener(event, () => scheduleRender(effects));
    for (const radio of document.querySelectorAll('input[name="bg"]')) {
      radio.addEventListener('change', () => {
        if (radio.value === 'picture' && !$('bg-picture').files[0]) $('bg-picture').click();
        else scheduleRender('all');
      });
    }
    $('bg-colour').addEventListener('input', () => {
      document.querySelector('input[name="bg"][value="colour"]').checked = true;
      scheduleRender('all');
    });
    $('bg-picture').addEventListener('change', () => {
      if (!$('bg-picture').files[0]) return;
      document.querySelector('input[name="bg"][value="picture"]').checked = true;
      scheduleRender('all');
    });
    $('bg-blur').addEventListener('input', () => {
      if (backgroundChoice() === 'blur') scheduleRender('color');
    });
    on('opt-shadow', 'change', 'color');
    $('fx-bw-strength').addEventListener('input', () => {
      $('fx-bw-strength-value').textContent = Number($('fx-bw-strength').value).toFixed(1);
      scheduleRender('bw');
    });
    on('fx-popart-palette', 'change', 'popart');
    on('fx-popart-grid', 'change', 'popart');
    on('fx-dither-method', 'change', 'dither');
    for (const id of ['opt-crop', 'opt-format', 'opt-decontaminate']) on(id, 'change', 'all');
    // A new refinement needs the network's own matte: the photo goes through the model again.
    $('opt-refine').addEventListener('change', () => {
      if (state.mask && !state.busy) process(state.file);
    });
    $('download-all').addEventListener('click', downloadAll);
  }

  function start() {
    const input = $('file-input');
    input.addEventListener('change', () => process(input.files[0]));
    const zone = $('drop-zone');
    zone.addEventListener('dragover', (e) => {
      e.preventDefault();
      zone.classList.add('dragging');
    });
    zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
    zone.addEventListener('drop', (e) => {
      e.preventDefault();
      zone.classList.remove('dragging');
      process(firstImage(e.dataTransfer.files));
    });
    // Dropping anywhere else would navigate away from the page.
    window.addEventListener('dragover', (e) => e.preventDefault());
    window.addEventListener('drop', (e) => e.preventDefault());
    document.addEventListener('paste', (e) => {
      const file = firstImage(e.clipboardData && e.clipboardData.files);
      if (file) process(file);
    });
    $('error-dismiss').addEventListener('click', hideError);
    $('error-retry').addEventListener('click', () => {
      hideError();
      process(state.file);
    });
    $('share-copy').addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText($('share-url').value);
        $('share-copy').textContent = 'Copied';
      } catch (e) {
        $('share-url').select();
      }
    });
    $('results-title').tabIndex = -1;
    wireAdjustments();
    warmUp();
  }

  document.addEventListener('DOMContentLoaded', start);
})();
