/*
 * pvideo landing-page tracker (plain JS, no libraries).
 *
 * - Shows each CTA (<a class="pvideo-cta" data-start data-end hidden>) exactly
 *   while start <= video.currentTime < end, placed by data-box (percent of
 *   the video box, so it scales with the player).
 * - Media events after Snowplow's media schema: page_view, ready, play, pause,
 *   seek_start, seek_end, percent_progress (10 % steps), ping (every
 *   config.ping_seconds while playing), end, cta_impression, fullscreen, error.
 *   Each carries event_id, session_id, seq (order within the session),
 *   position, duration and client_ts.
 * - CTA clicks go through the server's redirect (the link's own href), which
 *   records the click; the tracker only adds its event id, session, seq and
 *   position to that URL.
 * - Batches: POST {"token", "sent_at", "events": [...]} to config.events_url
 *   (fetch keepalive); on pagehide/hidden, navigator.sendBeacon with a
 *   text/plain body. Every event stays in a localStorage retry queue until a
 *   2xx acknowledges it, and is re-sent on the next visit otherwise (the
 *   server dedupes by event_id, so re-sending is safe).
 *
 * Globals: window.pvideoTracker = {flush, queue, sessionId}. CSP-safe.
 */
(function () {
  'use strict';

  var DEBOUNCE_MS = 1000;     // flush this long after the first queued event
  var FLUSH_AT = 10;          // ...or as soon as this many are queued
  var MAX_BATCH = 50;         // events per request (server limit 100 / 64 KB)
  var MAX_QUEUE = 500;        // oldest events are dropped beyond this
  var MAX_AGE_MS = 7 * 24 * 3600 * 1000;
  var RETRY_MIN_MS = 2000;
  var RETRY_MAX_MS = 60000;

  // ---- config ----------------------------------------------------------

  var config = {};
  try {
    var cfgEl = document.getElementById('pvideo-config');
    config = cfgEl ? (JSON.parse(cfgEl.textContent || '{}') || {}) : {};
  } catch (err) {
    config = {};
  }
  var token = typeof config.token === 'string' ? config.token : null;
  var eventsUrl = typeof config.events_url === 'string' ? config.events_url : null;
  var pingMs = (Number(config.ping_seconds) > 0 ? Number(config.ping_seconds) : 10) * 1000;

  var video = document.getElementById('pvideo-video') || document.querySelector('video');

  // ---- storage (may be unavailable: private mode, disabled cookies) ------

  function store(kind) {
    try {
      var s = window[kind];
      var probe = '__pvideo__';
      s.setItem(probe, probe);
      s.removeItem(probe);
      return s;
    } catch (err) {
      return null;
    }
  }
  var local = store('localStorage');
  var perTab = store('sessionStorage');
  var QUEUE_KEY = 'pvideo.queue.' + (token || '');
  var SESSION_KEY = 'pvideo.session.' + (token || '');

  function readJson(s, key, fallback) {
    if (!s) {
      return fallback;
    }
    try {
      var v = JSON.parse(s.getItem(key) || 'null');
      return v == null ? fallback : v;
    } catch (err) {
      return fallback;
    }
  }

  function writeJson(s, key, value) {
    if (!s) {
      return;
    }
    try {
      s.setItem(key, JSON.stringify(value));
    } catch (err) { /* quota: the in-memory queue still works */ }
  }

  // ---- ids, session, sequence ------------------------------------------

  function uuid() {
    var c = window.crypto;
    if (c && typeof c.randomUUID === 'function') {
      try {
        return c.randomUUID();
      } catch (err) { /* insecure context: fall through */ }
    }
    var b = new Uint8Array(16);
    if (c && typeof c.getRandomValues === 'function') {
      c.getRandomValues(b);
    } else {
      for (var i = 0; i < 16; i++) {
        b[i] = Math.floor(Math.random() * 256);
      }
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = [];
    for (var j = 0; j < 16; j++) {
      h.push((b[j] + 0x100).toString(16).slice(1));
    }
    return h.slice(0, 4).join('') + '-' + h.slice(4, 6).join('') + '-' + h.slice(6, 8).join('') +
      '-' + h.slice(8, 10).join('') + '-' + h.slice(10, 16).join('');
  }

  // One session per tab and link; a reload continues it (and its seq).
  var session = readJson(perTab, SESSION_KEY, null);
  if (!session || typeof session.id !== 'string' || typeof session.seq !== 'number') {
    session = { id: uuid().replace(/-/g, ''), seq: 0 };
  }

  function nextSeq() {
    session.seq += 1;
    writeJson(perTab, SESSION_KEY, session);
    return session.seq;
  }

  // ---- events ----------------------------------------------------------

  function position() {
    var t = video ? Number(video.currentTime) : 0;
    return isFinite(t) && t > 0 ? Math.round(t * 1000) / 1000 : 0;
  }

  function mediaDuration() {
    var d = video ? Number(video.duration) : NaN;
    if (isFinite(d) && d > 0) {
      return Math.round(d * 1000) / 1000;
    }
    d = Number(config.duration);
    return isFinite(d) && d > 0 ? d : null;
  }

  function makeEvent(type, extra) {
    var ev = {
      event_id: uuid(),
      type: type,
      session_id: session.id,
      seq: nextSeq(),
      position: position(),
      duration: mediaDuration(),
      client_ts: new Date().toISOString()
    };
    for (var k in extra || {}) {
      if (Object.prototype.hasOwnProperty.call(extra, k)) {
        ev[k] = extra[k];
      }
    }
    return ev;
  }

  // ---- the retry queue -------------------------------------------------

  var queue = [];             // not yet acknowledged; mutated in place
  var inflightIds = {};       // event_id -> true while a fetch carries it

  (function restore() {
    var saved = readJson(local, QUEUE_KEY, []);
    var cutoff = Date.now() - MAX_AGE_MS;
    for (var i = 0; i < saved.length; i++) {
      var ev = saved[i];
      if (ev && typeof ev.event_id === 'string' && Date.parse(ev.client_ts) > cutoff) {
        queue.push(ev);
      }
    }
  })();

  function persist() {
    if (queue.length > MAX_QUEUE) {
      queue.splice(0, queue.length - MAX_QUEUE);
    }
    if (queue.length) {
      writeJson(local, QUEUE_KEY, queue);
    } else if (local) {
      try { local.removeItem(QUEUE_KEY); } catch (err) { /* ignore */ }
    }
  }

  function acknowledge(batch) {
    var done = {};
    for (var i = 0; i < batch.length; i++) {
      done[batch[i].event_id] = true;
      delete inflightIds[batch[i].event_id];
    }
    for (var j = queue.length - 1; j >= 0; j--) {
      if (done[queue[j].event_id]) {
        queue.splice(j, 1);
      }
    }
    persist();
  }

  function release(batch) {
    for (var i = 0; i < batch.length; i++) {
      delete inflightIds[batch[i].event_id];
    }
  }

  function body(events) {
    return JSON.stringify({ token: token, sent_at: new Date().toISOString(), events: events });
  }

  // ---- sending ---------------------------------------------------------

  var timer = null;
  var retryDelay = 0;

  function schedule(delay) {
    if (timer === null) {
      timer = setTimeout(function () {
        timer = null;
        flush();
      }, delay);
    }
  }

  function cancelTimer() {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
  }

  function pending() {
    var out = [];
    for (var i = 0; i < queue.length && out.length < MAX_BATCH; i++) {
      if (!inflightIds[queue[i].event_id]) {
        out.push(queue[i]);
      }
    }
    return out;
  }

  function retryAfter(res) {
    var s = Number(res.headers && res.headers.get('Retry-After'));
    return isFinite(s) && s > 0 ? s * 1000 : 0;
  }

  // POST the oldest unsent events. Resolves (never rejects) when done.
  function flush() {
    cancelTimer();
    var batch = pending();
    if (!eventsUrl || !token || batch.length === 0 || typeof window.fetch !== 'function') {
      return Promise.resolve();
    }
    for (var i = 0; i < batch.length; i++) {
      inflightIds[batch[i].event_id] = true;
    }
    var request;
    try {
      request = window.fetch(eventsUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: body(batch),
        keepalive: true,
        credentials: 'omit',
        cache: 'no-store'
      });
    } catch (err) {
      request = Promise.reject(err);
    }
    return request.then(function (res) {
      if (res.ok || (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429)) {
        // stored (bad events are kept server-side as failed), or refused for good
        acknowledge(batch);
        retryDelay = 0;
        if (pending().length) {
          schedule(queue.length >= FLUSH_AT ? 0 : DEBOUNCE_MS);
        }
        return;
      }
      release(batch);
      retryDelay = Math.max(retryAfter(res),
        retryDelay ? Math.min(retryDelay * 2, RETRY_MAX_MS) : RETRY_MIN_MS);
      schedule(retryDelay);
    }, function () {
      release(batch);
      retryDelay = retryDelay ? Math.min(retryDelay * 2, RETRY_MAX_MS) : RETRY_MIN_MS;
      schedule(retryDelay);
    });
  }

  // The page is going away: hand everything unacknowledged to sendBeacon.
  // It stays in localStorage, so the next visit re-sends what got lost.
  function beaconFlush() {
    cancelTimer();
    if (!eventsUrl || !token || queue.length === 0) {
      return;
    }
    persist();
    if (!navigator.sendBeacon) {
      flush();
      return;
    }
    for (var i = 0; i < queue.length; i += MAX_BATCH) {
      var ok = false;
      try {
        ok = navigator.sendBeacon(eventsUrl, new Blob([body(queue.slice(i, i + MAX_BATCH))],
          { type: 'text/plain' }));
      } catch (err) {
        ok = false;
      }
      if (!ok) {
        break;
      }
    }
  }

  function track(type, extra) {
    queue.push(makeEvent(type, extra));
    persist();
    if (queue.length >= FLUSH_AT && retryDelay === 0) {
      flush();
    } else {
      schedule(retryDelay || DEBOUNCE_MS);
    }
  }

  // ---- CTA placement and visibility ------------------------------------

  var player = document.getElementById('pvideo-player');
  if (player) {
    var aspect = parseFloat(player.getAttribute('data-aspect'));
    if (isFinite(aspect) && aspect > 0) {
      player.style.setProperty('--pvideo-ar', String(aspect));
      player.style.aspectRatio = player.getAttribute('data-width') + ' / ' + player.getAttribute('data-height');
    }
  }

  var ctas = [];
  var ctaNodes = document.querySelectorAll('.pvideo-cta');
  for (var n = 0; n < ctaNodes.length; n++) {
    var el = ctaNodes[n];
    var box = (el.getAttribute('data-box') || '').split(',').map(parseFloat);
    if (box.length === 4 && box.every(isFinite)) {
      el.style.left = box[0] + '%';
      el.style.top = box[1] + '%';
      el.style.width = box[2] + '%';
      el.style.height = box[3] + '%';
    }
    var start = parseFloat(el.getAttribute('data-start'));
    var end = parseFloat(el.getAttribute('data-end'));
    ctas.push({
      el: el,
      id: el.getAttribute('data-cta-id'),
      href: el.getAttribute('href'),
      start: start,
      end: end,
      valid: isFinite(start) && isFinite(end) && end > start,
      shown: !el.hidden,
      seen: false
    });
  }

  function updateCtas() {
    var t = video ? Number(video.currentTime) : 0;
    if (!isFinite(t)) {
      t = 0;
    }
    for (var k = 0; k < ctas.length; k++) {
      var c = ctas[k];
      // the last frame: a CTA ending with the video stays up once it has ended
      var atEnd = video && video.ended && c.end >= mediaDuration();
      var show = c.valid && c.start <= t && (t < c.end || atEnd);
      if (show === c.shown) {
        continue;
      }
      c.shown = show;
      if (show) {
        c.el.hidden = false;
        if (!c.seen) {
          c.seen = true;
          track('cta_impression', { cta_id: c.id });
        }
      } else {
        if (document.activeElement === c.el && video) {
          try { video.focus({ preventScroll: true }); } catch (err) { /* ignore */ }
        }
        c.el.hidden = true;
      }
    }
  }

  function onCtaActivate(e) {
    var link = e.target && e.target.closest ? e.target.closest('.pvideo-cta, .pvideo-links a') : null;
    if (!link || (e.type === 'auxclick' && e.button !== 1)) {
      return;
    }
    var base = null;
    for (var k = 0; k < ctas.length; k++) {
      if (ctas[k].el === link) {
        base = ctas[k].href;
      }
    }
    if (!base) {
      return;
    }
    // The redirect records the click; these say which session, when, and where in the video.
    link.setAttribute('href', base + '?e=' + encodeURIComponent(uuid()) +
      '&s=' + encodeURIComponent(session.id) + '&q=' + nextSeq() + '&t=' + position());
    beaconFlush();
  }

  // ---- media events ----------------------------------------------------

  var lastPos = 0;            // last position seen while not seeking
  var seeking = false;
  var lastPingAt = 0;
  var percentSent = {};
  var readySent = false;

  function onTime() {
    updateCtas();
    if (!video || video.seeking) {
      return;
    }
    var t = position();
    var d = mediaDuration();
    if (!video.paused && d) {
      // a boundary crossed by playing (not by a seek) is reported once per page
      for (var p = 10; p < 100; p += 10) {
        var mark = d * p / 100;
        if (!percentSent[p] && lastPos < mark && t >= mark && t - lastPos < 2) {
          percentSent[p] = true;
          track('percent_progress', { percent: p });
        }
      }
      if (Date.now() - lastPingAt >= pingMs) {
        lastPingAt = Date.now();
        track('ping');
      }
    }
    lastPos = t;
  }

  var rafId = null;

  function tick() {
    rafId = null;
    onTime();
    if (video && !video.paused && !video.ended) {
      rafId = window.requestAnimationFrame(tick);
    }
  }

  function startLoop() {
    if (rafId === null && typeof window.requestAnimationFrame === 'function') {
      rafId = window.requestAnimationFrame(tick);
    }
  }

  function stopLoop() {
    if (rafId !== null) {
      window.cancelAnimationFrame(rafId);
      rafId = null;
    }
  }

  function fullscreenState(on) {
    track('fullscreen', { detail: on ? 'enter' : 'exit' });
  }

  if (video) {
    video.addEventListener('loadedmetadata', function () {
      if (!readySent) {
        readySent = true;
        track('ready');
      }
      updateCtas();
    });
    video.addEventListener('play', function () {
      lastPos = position();
      lastPingAt = Date.now();
      track('play');
      updateCtas();
      startLoop();
    });
    video.addEventListener('playing', startLoop);
    video.addEventListener('pause', function () {
      stopLoop();
      onTime();
      if (!video.ended) {   // at the end browsers fire pause, then ended: report only end
        track('pause');
      }
    });
    video.addEventListener('ended', function () {
      stopLoop();
      onTime();
      track('end', { position: mediaDuration() || position() });
      beaconFlush();
    });
    video.addEventListener('seeking', function () {
      updateCtas();
      if (!seeking) {
        seeking = true;
        track('seek_start', { position: lastPos });
      }
    });
    video.addEventListener('seeked', function () {
      seeking = false;
      lastPos = position();
      track('seek_end');
      updateCtas();
    });
    video.addEventListener('timeupdate', onTime);
    video.addEventListener('error', function () {
      var code = video.error ? video.error.code : 0;
      track('error', { detail: 'media error ' + code });
    });
    video.addEventListener('webkitbeginfullscreen', function () { fullscreenState(true); });
    video.addEventListener('webkitendfullscreen', function () { fullscreenState(false); });
    ['loadeddata', 'durationchange', 'emptied'].forEach(function (name) {
      video.addEventListener(name, updateCtas);
    });
  }
  document.addEventListener('fullscreenchange', function () {
    fullscreenState(!!document.fullscreenElement);
  });

  var clickRoot = document.getElementById('pvideo-player') || document;
  clickRoot.addEventListener('click', onCtaActivate);
  clickRoot.addEventListener('auxclick', onCtaActivate);

  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'hidden') {
      beaconFlush();
    } else if (queue.length > 0) {
      schedule(DEBOUNCE_MS);
    }
  });
  window.addEventListener('pagehide', beaconFlush);
  window.addEventListener('online', function () {
    retryDelay = 0;
    if (queue.length > 0) {
      cancelTimer();
      flush();
    }
  });

  // ---- start -----------------------------------------------------------

  updateCtas();
  track('page_view');
  if (video && video.readyState >= 1 && !readySent) {
    readySent = true;
    track('ready');
  }
  if (video && !video.paused) {
    startLoop();
  }

  window.pvideoTracker = { flush: flush, queue: queue, sessionId: session.id };
})();
