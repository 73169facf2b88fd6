/*
 * pvideo landing-page tracker.
 *
 * - Shows each CTA (<a class="pvideo-cta" data-start data-end hidden>) exactly
 *   while start <= video.currentTime < end.
 * - Reports viewer events in batches to config.events_url:
 *     POST {"token": ..., "events": [{event_id, type, position, cta_id, client_ts}, ...]}
 *
 * No libraries, no globals except window.pvideoTracker = {flush, queue}.
 * Loaded with <script defer>; works under CSP script-src 'self'.
 */
(function () {
  'use strict';

  var DEBOUNCE_MS = 1000;     // flush this long after the first queued event
  var FLUSH_AT = 10;          // ...or as soon as this many are queued
  var MAX_BATCH = 50;         // events per request (keepalive bodies are capped at 64 KiB)
  var MAX_QUEUE = 500;        // oldest events are dropped beyond this
  var RETRY_MIN_MS = 2000;
  var RETRY_MAX_MS = 60000;
  var MILESTONES = [25, 50, 75];

  var queue = [];             // exposed; always mutated in place, never reassigned

  // ---- config ----------------------------------------------------------

  var config = {};
  try {
    var cfgEl = document.getElementById('pvideo-config');
    if (cfgEl) {
      config = JSON.parse(cfgEl.textContent || '{}') || {};
    }
  } catch (err) {
    config = {};
  }
  var token = typeof config.token === 'string' ? config.token : null;
  var eventsUrl = typeof config.events_url === 'string' ? config.events_url : null;

  var video = document.getElementById('pvideo-video') ||
    document.querySelector('video.pvideo-video') ||
    document.querySelector('video');

  // ---- helpers ---------------------------------------------------------

  function uuid() {
    var c = window.crypto || window.msCrypto;
    if (c && typeof c.randomUUID === 'function') {
      try {
        return c.randomUUID();
      } catch (err) { /* insecure context on some browsers: fall through */ }
    }
    var b = new Uint8Array(16);
    if (c && typeof c.getRandomValues === 'function') {
      c.getRandomValues(b);
    } else {
      for (var i = 0; i < 16; i++) {
        b[i] = Math.floor(Math.random() * 256);
      }
    }
    b[6] = (b[6] & 0x0f) | 0x40;  // version 4
    b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
    var h = [];
    for (var j = 0; j < 16; j++) {
      h.push((b[j] + 0x100).toString(16).slice(1));
    }
    return h.slice(0, 4).join('') + '-' + h.slice(4, 6).join('') + '-' +
      h.slice(6, 8).join('') + '-' + h.slice(8, 10).join('') + '-' +
      h.slice(10, 16).join('');
  }

  function currentPosition() {
    var t = video ? Number(video.currentTime) : 0;
    if (!isFinite(t) || t < 0) {
      t = 0;
    }
    return Math.round(t * 1000) / 1000;
  }

  function mediaDuration() {
    var d = video ? Number(video.duration) : NaN;
    if (isFinite(d) && d > 0) {
      return d;
    }
    d = Number(config.duration);
    return isFinite(d) && d > 0 ? d : 0;
  }

  function makeEvent(type, ctaId) {
    return {
      event_id: uuid(),
      type: type,
      position: currentPosition(),
      cta_id: ctaId == null ? null : String(ctaId),
      client_ts: new Date().toISOString()
    };
  }

  function payload(events) {
    return JSON.stringify({ token: token, events: events });
  }

  function trimQueue() {
    if (queue.length > MAX_QUEUE) {
      queue.splice(0, queue.length - MAX_QUEUE);
    }
  }

  // ---- sending ---------------------------------------------------------

  var timer = null;
  var inflight = false;
  var retryDelay = 0;         // > 0 while backing off after a failure

  function schedule(delay) {
    if (timer !== null) {
      return;
    }
    timer = setTimeout(function () {
      timer = null;
      flush();
    }, delay);
  }

  function cancelTimer() {
    if (timer !== null) {
      clearTimeout(timer);
      timer = null;
    }
  }

  function retryable(status) {
    return status === 408 || status === 425 || status === 429 || status >= 500;
  }

  // POST queued events with fetch(keepalive). Returns a Promise that resolves
  // once this round is done (never rejects). On a network error or a
  // retryable status the batch goes back to the front of the queue.
  function flush() {
    cancelTimer();
    if (!eventsUrl || queue.length === 0 || typeof window.fetch !== 'function') {
      return Promise.resolve();
    }
    if (inflight) {
      // one request at a time keeps events in order; try again shortly
      schedule(DEBOUNCE_MS);
      return Promise.resolve();
    }
    var batch = queue.splice(0, MAX_BATCH);
    inflight = true;

    var request;
    try {
      request = window.fetch(eventsUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: payload(batch),
        keepalive: true,
        credentials: 'same-origin',
        cache: 'no-store'
      });
    } catch (err) {
      request = Promise.reject(err);
    }

    return request.then(function (res) {
      if (res.ok) {
        return 'ok';
      }
      return retryable(res.status) ? 'retry' : 'drop';
    }, function () {
      return 'retry';
    }).then(function (outcome) {
      inflight = false;
      if (outcome === 'retry') {
        Array.prototype.unshift.apply(queue, batch);
        trimQueue();
        retryDelay = retryDelay ? Math.min(retryDelay * 2, RETRY_MAX_MS) : RETRY_MIN_MS;
        schedule(retryDelay);
        return;
      }
      // 'ok', or a 4xx the server will never accept: don't retry forever.
      retryDelay = 0;
      if (queue.length >= FLUSH_AT) {
        return flush();
      }
      if (queue.length > 0) {
        schedule(DEBOUNCE_MS);
      }
    });
  }

  // Hand everything queued to sendBeacon (survives unload/navigation).
  // Anything the browser refuses stays queued for a later fetch flush.
  function beaconFlush() {
    cancelTimer();
    if (!eventsUrl || queue.length === 0) {
      return;
    }
    if (!navigator.sendBeacon) {
      flush();
      return;
    }
    while (queue.length > 0) {
      var batch = queue.slice(0, MAX_BATCH);
      var ok = false;
      try {
        ok = navigator.sendBeacon(
          eventsUrl,
          new Blob([payload(batch)], { type: 'text/plain' })
        );
      } catch (err) {
        ok = false;
      }
      if (!ok) {
        break;
      }
      queue.splice(0, batch.length);
    }
    if (queue.length > 0 && document.visibilityState !== 'hidden') {
      schedule(DEBOUNCE_MS);
    }
  }

  function track(type, ctaId) {
    queue.push(makeEvent(type, ctaId));
    trimQueue();
    if (queue.length >= FLUSH_AT && retryDelay === 0) {
      flush();
    } else {
      schedule(retryDelay || DEBOUNCE_MS);
    }
  }

  // ---- CTA visibility --------------------------------------------------

  // Geometry comes from data attributes (a strict CSP forbids inline styles);
  // setting it through the CSSOM is allowed.
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
  for (var i = 0; i < ctaNodes.length; i++) {
    var el = ctaNodes[i];
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
      start: start,
      end: end,
      valid: isFinite(start) && isFinite(end) && end > start,
      shown: !el.hidden
    });
  }

  function updateCtas() {
    var t = video ? Number(video.currentTime) : 0;
    if (!isFinite(t)) {
      t = 0;
    }
    for (var k = 0; k < ctas.length; k++) {
      var c = ctas[k];
      var show = c.valid && c.start <= t && t < c.end;
      if (show === c.shown) {
        continue;
      }
      c.shown = show;
      if (show) {
        c.el.hidden = false;
        c.el.removeAttribute('aria-hidden');
      } else {
        if (document.activeElement === c.el && video) {
          // don't strand keyboard focus on an element that is going away
          try {
            video.focus({ preventScroll: true });
          } catch (err) { /* ignore */ }
        }
        c.el.hidden = true;
      }
    }
  }

  var rafId = null;

  function tick() {
    rafId = null;
    updateCtas();
    checkMilestones();
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

  // ---- progress milestones ---------------------------------------------

  var milestonesSent = {};

  // Fires each of 25/50/75 % once per page load, when the position reaches
  // it during playback (a seek while paused doesn't count until play).
  function checkMilestones() {
    if (!video || video.paused || video.seeking) {
      return;
    }
    var d = mediaDuration();
    if (!d) {
      return;
    }
    var pct = (Number(video.currentTime) / d) * 100;
    for (var m = 0; m < MILESTONES.length; m++) {
      var mark = MILESTONES[m];
      if (!milestonesSent[mark] && pct >= mark) {
        milestonesSent[mark] = true;
        track('progress');
      }
    }
  }

  // ---- wiring ----------------------------------------------------------

  if (video) {
    video.addEventListener('play', function () {
      track('play');
      updateCtas();
      startLoop();
    });
    video.addEventListener('playing', startLoop);
    video.addEventListener('pause', function () {
      stopLoop();
      updateCtas();
      // at the end browsers fire pause then ended; report only "ended"
      if (!video.ended) {
        track('pause');
      }
    });
    video.addEventListener('ended', function () {
      stopLoop();
      updateCtas();
      checkMilestones();
      track('ended');
    });
    video.addEventListener('timeupdate', function () {
      updateCtas();
      checkMilestones();
    });
    ['seeking', 'seeked', 'loadedmetadata', 'loadeddata', 'durationchange', 'emptied']
      .forEach(function (name) {
        video.addEventListener(name, updateCtas);
      });
  }

  function onCtaActivate(e) {
    var target = e.target;
    var link = target && target.closest ? target.closest('.pvideo-cta') : null;
    if (!link) {
      return;
    }
    if (e.type === 'auxclick' && e.button !== 1) {
      return;   // only middle-click opens the link
    }
    // Queue the click and hand everything to sendBeacon right away so it
    // survives the navigation. Default action is untouched: the link opens.
    queue.push(makeEvent('cta_click', link.getAttribute('data-cta-id')));
    trimQueue();
    if (navigator.sendBeacon) {
      beaconFlush();
    } else {
      flush();
    }
  }

  var player = document.getElementById('pvideo-player') || document;
  player.addEventListener('click', onCtaActivate);
  player.addEventListener('auxclick', onCtaActivate);

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
  if (video && !video.paused) {
    startLoop();
  }

  window.pvideoTracker = {
    flush: flush,
    queue: queue
  };
})();
