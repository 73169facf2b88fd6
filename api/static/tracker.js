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
 * - Batches, the way Segment's analytics.js and Snowplow send them: events wait
 *   in a queue and go as one POST {"token", "sent_at", "events": [...]} to
 *   config.events_url when FLUSH_AT of them are waiting, or FLUSH_INTERVAL_MS
 *   after the first of them was queued (fetch, keepalive, text/plain: a simple
 *   request, no CORS preflight); and at once, by navigator.sendBeacon, when
 *   the page may be going away: pagehide, visibilitychange to hidden, a CTA
 *   click. A video's events thus go a few per request instead of one.
 * - Nothing is lost: every event stays in a localStorage queue until a 2xx
 *   acknowledges it. A failed send is retried (backing off, after Retry-After)
 *   with the same event ids, and the server dedupes by event_id, so sending
 *   again is always safe. A beacon is not acknowledged: what it carried is not
 *   sent again while the page lives, but stays stored and goes once more with
 *   the next visit's first batch, in case the beacon never arrived.
 * - Privacy (config.tracking; pvideo/privacy/consent.py): "full" sends the above. "anonymous"
 *   never makes a session: events go without session_id, seq and client_ts (they only count).
 *   "consent" is anonymous until the viewer presses Accept on the banner (consent.js, loaded
 *   first), then sends them too, each batch saying consent: true; never while the browser
 *   refuses tracking (Global Privacy Control, Do Not Track). What a batch carries is decided
 *   when it goes, so events queued earlier (a previous visit's) are sent as allowed now.
 * - bench/events.py replays this batching; it reads FLUSH_AT,
 *   FLUSH_INTERVAL_MS and MAX_BATCH from this file.
 *
 * Globals: window.pvideoTracker = {flush, flushNow, queue, sessionId, flushAt,
 * flushIntervalMs, track, personal}; track(type, extra) queues one more event (interactive.js
 * sends interaction_shown / interaction_skipped through it); sessionId is null while nothing
 * personal may be sent; personal() says whether it may now. CSP-safe.
 */
(function () {
  'use strict';

  var FLUSH_AT = 20;             // send as soon as this many events wait
  var FLUSH_INTERVAL_MS = 5000;  // ...or this long after the first of them was queued
  var MAX_BATCH = 50;            // events per request (server limit 100 / 64 KB)
  var MAX_QUEUE = 500;           // oldest events are dropped beyond this
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
  var tracking = config.tracking === 'anonymous' || config.tracking === 'consent' ? config.tracking : 'full';
  var consent = window.pvideoConsent || null;  // consent.js, taken once: the page cannot swap it later
  var PERSONAL = ['session_id', 'seq', 'client_ts'];

  function browserRefuses() {
    var nav = window.navigator || {};
    var dnt = nav.doNotTrack || window.doNotTrack || nav.msDoNotTrack;
    return nav.globalPrivacyControl === true || dnt === '1' || dnt === 'yes';
  }

  // Whether the session id, sequence and the device's clock may go with the events now.
  function personal() {
    if (tracking === 'full') {
      return true;
    }
    return tracking === 'consent' && !!consent && consent.accepted() === true && !browserRefuses();
  }

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

  // One session per tab and link; a reload continues it (and its seq). Made (and kept in
  // sessionStorage) only once something personal may be sent.
  var session = null;

  function currentSession() {
    if (session === null) {
      session = readJson(perTab, SESSION_KEY, null);
      if (!session || typeof session.id !== 'string' || typeof session.seq !== 'number') {
        session = { id: uuid().replace(/-/g, ''), seq: 0 };
      }
    }
    return session;
  }

  function nextSeq() {
    currentSession().seq += 1;
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
      position: position(),
      duration: mediaDuration(),
      client_ts: new Date().toISOString()  // kept in the queue for its age; sent only when personal
    };
    if (personal()) {
      ev.session_id = currentSession().id;
      ev.seq = nextSeq();
    }
    for (var k in extra || {}) {
      if (Object.prototype.hasOwnProperty.call(extra, k)) {
        ev[k] = extra[k];
      }
    }
    return ev;
  }

  // ---- the queue -------------------------------------------------------

  var queue = [];             // not yet acknowledged; mutated in place
  var inflightIds = {};       // event_id -> true while a fetch carries it
  var beaconedIds = {};       // event_id -> true once a beacon took it (this page's life)

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
    var out = { token: token, sent_at: new Date().toISOString(), events: events };
    if (!personal()) {
      out.events = events.map(function (ev) {
        var copy = {};
        for (var k in ev) {
          if (Object.prototype.hasOwnProperty.call(ev, k) && PERSONAL.indexOf(k) < 0) {
            copy[k] = ev[k];
          }
        }
        return copy;
      });
    } else if (tracking === 'consent') {
      out.consent = true;
    }
    return JSON.stringify(out);
  }

  // Events no request carries now and no beacon took, oldest first (all of them, or up to `limit`).
  function waiting(limit) {
    var out = [];
    for (var i = 0; i < queue.length && (!limit || out.length < limit); i++) {
      var id = queue[i].event_id;
      if (!inflightIds[id] && !beaconedIds[id]) {
        out.push(queue[i]);
      }
    }
    return out;
  }

  // ---- sending ---------------------------------------------------------

  var timer = null;
  var retryDelay = 0;         // > 0 while backing off after a failed send

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

  function retryAfter(res) {
    var s = Number(res.headers && res.headers.get('Retry-After'));
    return isFinite(s) && s > 0 ? s * 1000 : 0;
  }

  function backOff(wait) {
    retryDelay = Math.max(wait, retryDelay ? Math.min(retryDelay * 2, RETRY_MAX_MS) : RETRY_MIN_MS);
    schedule(retryDelay);
  }

  // POST the oldest waiting events (fetch, keepalive). Resolves (never rejects) when answered.
  function flush() {
    cancelTimer();
    var batch = waiting(MAX_BATCH);
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
        headers: { 'Content-Type': 'text/plain' },  // a simple request: no CORS preflight
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
        var left = waiting(0).length;
        if (left >= FLUSH_AT) {
          flush();
        } else if (left) {
          schedule(FLUSH_INTERVAL_MS);
        }
        return;
      }
      release(batch);
      backOff(retryAfter(res));
    }, function () {
      release(batch);
      backOff(0);
    });
  }

  // The page may be going away: hand every waiting event to sendBeacon at once. A beacon
  // the browser refuses (too large, over its quota) leaves the rest to fetch (keepalive).
  function flushNow() {
    cancelTimer();
    var events = waiting(0);
    if (!eventsUrl || !token || events.length === 0) {
      return;
    }
    persist();
    for (var i = 0; i < events.length; i += MAX_BATCH) {
      var chunk = events.slice(i, i + MAX_BATCH);
      var ok = false;
      try {
        ok = !!navigator.sendBeacon &&
          navigator.sendBeacon(eventsUrl, new Blob([body(chunk)], { type: 'text/plain' }));
      } catch (err) {
        ok = false;
      }
      if (!ok) {
        flush();
        return;
      }
      for (var j = 0; j < chunk.length; j++) {
        beaconedIds[chunk[j].event_id] = true;
      }
    }
  }

  function track(type, extra) {
    queue.push(makeEvent(type, extra));
    persist();
    if (retryDelay === 0 && waiting(0).length >= FLUSH_AT) {
      flush();
    } else {
      // a no-op while a timer runs: the first waiting event's, or the retry's when backing off
      schedule(retryDelay || FLUSH_INTERVAL_MS);
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
    var who = '';
    if (personal()) {
      who = '&s=' + encodeURIComponent(currentSession().id) + '&q=' + nextSeq() + (tracking === 'consent' ? '&c=1' : '');
    }
    link.setAttribute('href', base + '?e=' + encodeURIComponent(uuid()) + who + '&t=' + position());
    flushNow();
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

  // interactive.js holds the video while it jumps to a branch: that pause and play are not the viewer's
  function held() {
    return !!(window.pvideoInteractive && window.pvideoInteractive.holding);
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
      if (!held()) {
        track('play');
      }
      updateCtas();
      startLoop();
    });
    video.addEventListener('playing', startLoop);
    video.addEventListener('pause', function () {
      stopLoop();
      onTime();
      if (!video.ended && !held()) {   // at the end browsers fire pause, then ended: report only end
        track('pause');
      }
    });
    video.addEventListener('ended', function () {
      stopLoop();
      onTime();
      track('end', { position: mediaDuration() || position() });
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
      flushNow();
    }
  });
  window.addEventListener('pagehide', flushNow);
  window.addEventListener('online', function () {
    retryDelay = 0;
    if (waiting(0).length > 0) {
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

  var api = {
    flush: flush,
    flushNow: flushNow,
    queue: queue,
    flushAt: FLUSH_AT,
    flushIntervalMs: FLUSH_INTERVAL_MS,
    track: track,
    personal: personal
  };
  Object.defineProperty(api, 'sessionId', {
    enumerable: true,
    get: function () { return personal() ? currentSession().id : null; }
  });
  window.pvideoTracker = api;
})();
