/*
 * pvideo interactive player: the questions of a landing page's video drawn over it, and its
 * choose-your-path branches. Plain JS, no libraries, CSP-safe (script-src 'self'; all styles
 * are classes in interactive.css; every text goes in with textContent, never innerHTML).
 *
 * Input: config.interactive = {sections: [{name, start, end, then}], interactions: [{id, type,
 * start, end, pause, skippable, ...}]} (pvideo/plan/interactive.py, the customer's seconds),
 * config.responses_url, config.token. The panels are built by interactive-panels.js
 * (window.pvideoPanels) and the branch decisions made by interactive-paths.js
 * (window.pvideoPaths), both loaded before this file.
 *
 * Timing: every frame while playing (requestAnimationFrame and requestVideoFrameCallback),
 * on timeupdate and after each seek. An interaction shows from `start`; `pause: true` pauses
 * the video (a modal dialog) until the viewer answers or skips, then it plays on; one with an
 * `end` goes away at `end`. A gate holds the video at its start (before playback at 0).
 * interaction_shown goes once per session and interaction (tracker.js's queue).
 *
 * Branches: a `choice` pick posts the answer and seeks to the chosen section's start. At the
 * end of a chosen section the video goes on at its `then` (a section's start; "end": the end
 * of the video), or, with none, past the branches not chosen. A branch not chosen is skipped
 * whenever playback would enter it (to its end, again while the next is one too); the jump is
 * made LEAD seconds before the boundary, so no frame of it shows. Timeout or skip: `default`.
 *
 * Answers: POST config.responses_url {token, event_id, session_id, interaction_id, answer,
 * position, client_ts} (fetch, keepalive; the same event id on each retry); network errors,
 * 5xx, 408 and 429 are retried after 1, 2 and 4 s; another 4xx shows the server's detail in
 * the panel; 409 (already answered in this session) counts as answered. While the tracker may
 * send nothing personal (tracker.js personal(): anonymous tracking, or consent not given) an
 * answer goes without session_id and client_ts, and the server refuses a form's personal fields
 * (403, its detail shown in the panel); with consent given it says consent: true. Answers, skips, the
 * branches chosen and the interactions shown are kept in sessionStorage: a replay or a
 * reload does not ask again.
 *
 * Full screen: the player's wrapper (#pvideo-screen) goes full screen, not the <video>, so the
 * overlays stay visible; the native full-screen button is replaced by one of ours.
 *
 * Times: config times are the content's; on HLS the media timeline may start before the
 * first video frame (see measureOffset); that offset is added to every time used.
 *
 * Globals: window.pvideoInteractive = {log, chosen, open, offset} where log lists each jump as
 * {from, to, target, reason}: `from` is video.currentTime just before the seek, `to` after its
 * `seeked` event; reason is choice | default | then | end | skip | gate.
 */
(function () {
  'use strict';

  var LEAD = 0.03;       // seconds before a boundary to act (checks run each 1/60 s: one may come late)
  var EPS = 0.002;       // the same as interactive-paths.js
  var SEEK_IN = 0.001;   // land just inside a section, never on the frame before it
  var UNSURE_IN = 0.025; // ... while where the frames sit is not known yet
  var RETRY_MS = [1000, 2000, 4000];
  var TOAST_MS = 3000;

  var api = { log: [], chosen: {}, open: [], offset: 0 };
  window.pvideoInteractive = api;

  var config = {};
  try {
    var cfgEl = document.getElementById('pvideo-config');
    config = cfgEl ? (JSON.parse(cfgEl.textContent || '{}') || {}) : {};
  } catch (err) {
    config = {};
  }
  var data = config.interactive || {};
  var items = Array.isArray(data.interactions) ? data.interactions : [];
  var sections = Array.isArray(data.sections) ? data.sections.slice() : [];
  var video = document.getElementById('pvideo-video');
  var player = document.getElementById('pvideo-player');
  var screenEl = document.getElementById('pvideo-screen') || player;
  var live = document.getElementById('pvideo-live');
  var panels = window.pvideoPanels;
  if (!video || !player || !items.length || !panels || typeof window.pvideoPaths !== 'function') {
    return;
  }
  var token = typeof config.token === 'string' ? config.token : '';
  var responsesUrl = typeof config.responses_url === 'string' ? config.responses_url : null;

  // ---- what this session already did (sessionStorage) ---------------------

  var KEY = 'pvideo.interactive.' + token;
  var memory = { answered: {}, skipped: {}, shown: {}, chosen: {} };
  try {
    var saved = JSON.parse(window.sessionStorage.getItem(KEY) || 'null');
    if (saved && typeof saved === 'object') {
      for (var part in memory) {
        if (saved[part] && typeof saved[part] === 'object') {
          memory[part] = saved[part];
        }
      }
    }
  } catch (err) { /* storage unavailable: this page remembers in memory */ }
  api.chosen = memory.chosen;

  function save() {
    try {
      window.sessionStorage.setItem(KEY, JSON.stringify(memory));
    } catch (err) { /* quota or private mode: memory still holds it */ }
  }

  function tracker() {
    return window.pvideoTracker || null;
  }

  function track(type, extra) {
    var t = tracker();
    if (t && typeof t.track === 'function') {
      t.track(type, extra);
    }
  }

  function uuid() {
    var c = window.crypto;
    if (c && typeof c.randomUUID === 'function') {
      try {
        return c.randomUUID();
      } catch (err) { /* insecure context */ }
    }
    var b = new Uint8Array(16);
    if (c && c.getRandomValues) {
      c.getRandomValues(b);
    } else {
      for (var i = 0; i < 16; i++) {
        b[i] = Math.floor(Math.random() * 256);
      }
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = '';
    for (var j = 0; j < 16; j++) {
      h += (b[j] + 0x100).toString(16).slice(1);
      if (j === 3 || j === 5 || j === 7 || j === 9) {
        h += '-';
      }
    }
    return h;
  }

  function sessionId() {
    var t = tracker();
    if (t && typeof t.sessionId === 'string') {
      return t.sessionId;
    }
    if (!memory.session) {
      memory.session = uuid().replace(/-/g, '');
      save();
    }
    return memory.session;
  }

  function position() {
    var t = Number(video.currentTime);
    return isFinite(t) && t > 0 ? Math.round(t * 1000) / 1000 : 0;
  }

  function duration() {
    var d = Number(video.duration);
    return isFinite(d) && d > 0 ? d : (Number(config.duration) || 0);
  }

  // Where the first video frame sits on the media timeline. An MP4 starts at 0; an HLS stream
  // may start its timeline at the audio's first sample, before the video's (AAC priming: 1024
  // samples, 21 ms at 48 kHz), so every section there begins that much later. The first frame
  // of each source (hls.js replaces the MP4 after a moment), shown while the video waits at its
  // start, tells (requestVideoFrameCallback). Until it has (or when that frame came before this
  // script), seeks land UNSURE_IN past a section's start: inside its first frame either way.
  var offset = 0;
  var offsetKnown = false;
  var source = 0;

  function measureOffset() {
    offsetKnown = false;
    if (typeof video.requestVideoFrameCallback !== 'function') {
      return;
    }
    var mine = ++source;
    video.requestVideoFrameCallback(function (_now, meta) {
      var first = meta ? Number(meta.mediaTime) : NaN;
      // the first frame shown while paused at the start is the first frame of the video
      if (mine === source && video.paused && isFinite(first) && first >= 0 && first < 0.05 &&
          Number(video.currentTime) < 0.001) {
        offset = first;
        offsetKnown = true;
        api.offset = offset;
      }
    });
  }

  // The content's own clock: the customer's output seconds, as in config.interactive.
  function now() {
    return Number(video.currentTime) - offset;
  }

  function endTime() {
    return duration() - offset;
  }

  // ---- branches: decided by interactive-paths.js, made here ----------------------

  var paths = window.pvideoPaths(sections, items, memory.chosen, LEAD, endTime);

  var pending = null;    // the jump whose seek has not landed yet
  var resumeAfterSeek = false;

  // Seek to content time `to`. A jump made while playing holds the video during the seek (and
  // plays on where it landed), so the clock does not run on past the landing point meanwhile;
  // api.holding tells tracker.js that this pause and play are not the viewer's.
  function jump(to, reason) {
    var atEnd = to >= endTime() - EPS;
    var at = atEnd ? duration() : to + offset + (offsetKnown ? SEEK_IN : UNSURE_IN);
    pending = { from: Number(video.currentTime), to: null, target: to, reason: reason };
    if (!video.paused && !atEnd) {
      api.holding = true;
      resumeAfterSeek = true;
      video.pause();
    }
    try {
      video.currentTime = at;
    } catch (err) {
      pending = null;
      return false;
    }
    return true;
  }

  // Act on what the paths say for content time `t`. True when it seeked.
  function branchCheck(t) {
    var step = paths.next(t);
    return step ? jump(step.target, step.reason) : false;
  }

  // ---- overlays -------------------------------------------------------------

  var layer = document.createElement('div');
  layer.className = 'pvideo-layer';
  layer.hidden = true;
  player.appendChild(layer);

  var opened = [];        // records of the overlays on screen, oldest first
  var started = false;    // the viewer has pressed play at least once
  var prevT = 0;

  function modal() {
    for (var i = 0; i < opened.length; i++) {
      if (opened[i].modal) {
        return opened[i];
      }
    }
    return null;
  }

  function find(id) {
    for (var i = 0; i < opened.length; i++) {
      if (opened[i].item.id === id) {
        return opened[i];
      }
    }
    return null;
  }

  function isDone(item) {
    return !!(memory.answered[item.id] || memory.skipped[item.id] ||
      (item.type === 'choice' && memory.chosen[item.id]));
  }

  function due(item, t) {
    var s = Number(item.start) || 0;
    if (item.type === 'gate') {
      return t >= s - LEAD || s <= LEAD;
    }
    if (!started) {
      return false;
    }
    if (item.end !== null && item.end !== undefined) {
      return t >= s - LEAD && t < Number(item.end);
    }
    return !!item.pause && prevT <= s + EPS && t >= s - LEAD && t < s + 1;
  }

  function interactionCheck(t) {
    for (var i = 0; i < items.length; i++) {
      var item = items[i];
      var rec = find(item.id);
      if (rec) {
        var end = item.end === null || item.end === undefined ? null : Number(item.end);
        if (!rec.modal && end !== null && (t >= end || t < Number(item.start) - 0.5)) {
          if (item.type === 'choice') {
            skip(rec, 'timeout');
          } else {
            close(rec);
          }
        }
        continue;
      }
      if (!isDone(item) && !(item.pause && modal()) && due(item, t)) {
        open(item);
      }
    }
  }

  function check() {
    if (pending || video.seeking) {
      return;
    }
    var t = now();
    if (!isFinite(t)) {
      return;
    }
    if (!modal() && branchCheck(t)) {
      return;
    }
    interactionCheck(t);
    prevT = t;
    wakeBefore(t);
  }

  // Frames come every 1/60 s while the page keeps up; a timer set for the next moment to act
  // also calls check() on time when they come late.
  var wakeTimer = null;

  function wakeBefore(t) {
    if (video.paused || wakeTimer !== null) {
      return;
    }
    var next = paths.nextBoundary(t);
    for (var i = 0; i < items.length; i++) {
      var s = Number(items[i].start);
      if (s > t && (next === null || s < next)) {
        next = s;
      }
    }
    var rate = Number(video.playbackRate) || 1;
    var wait = next === null ? Infinity : (next - LEAD - t) / rate;
    if (wait > 0.002 && wait < 0.3) {
      wakeTimer = window.setTimeout(function () {
        wakeTimer = null;
        check();
      }, Math.max(0, wait * 1000 - 2));
    }
  }

  function refreshLayer() {
    layer.hidden = opened.length === 0;
    layer.classList.toggle('is-modal', !!modal());
    player.classList.toggle('has-overlay', opened.length > 0);
    api.open = opened.map(function (r) { return r.item.id; });
  }

  function focusVideo() {
    try {
      video.focus({ preventScroll: true });
    } catch (err) { /* ignore */ }
  }

  function resume() {
    var p = video.play();
    if (p && typeof p.then === 'function') {
      p.then(release, function () { release(); /* autoplay refused: the viewer presses play */ });
    } else {
      release();
    }
  }

  function release() {
    window.setTimeout(function () { api.holding = false; }, 0);  // after the queued play event
  }

  var toastTimer = null;

  function announce(text) {
    if (!live) {
      return;
    }
    live.textContent = '';
    live.classList.remove('is-shown');
    window.setTimeout(function () {
      live.textContent = text;
      live.classList.add('is-shown');
    }, 60);
    window.clearTimeout(toastTimer);
    toastTimer = window.setTimeout(function () {
      live.classList.remove('is-shown');
      live.textContent = '';
    }, TOAST_MS);
  }

  function open(item) {
    var rec = { item: item, modal: !!item.pause, resume: false, busy: false, timer: null };
    rec.el = panels.build(item, {
      modal: rec.modal,
      answer: function (value) { answer(rec, value); },
      pick: function (section) { pick(rec, section); },
      skip: function () { skip(rec, 'skip'); },
      opened: function () { calendarOpened(rec); },
      engaged: function () {
        if (rec.modal) {
          stopCountdown(rec);  // a viewer choosing takes the time it takes; a playing video cannot wait
        }
      }
    });
    if (rec.modal) {
      rec.resume = !video.paused || item.type === 'gate';
      if (!video.paused) {
        video.pause();
        var late = now() - Number(item.start);
        if (late > LEAD && late < 1 && item.type !== 'gate') {
          video.currentTime = Number(item.start) + offset;  // a busy page paused late: back to the moment
        }
      }
      leaveVideoFullscreen();
    }
    rec.returnTo = document.activeElement;
    if (rec.modal && live) {
      live.classList.remove('is-shown');  // the last "thanks" makes way for the next question
    }
    opened.push(rec);
    layer.appendChild(rec.el);
    refreshLayer();
    if (item.type === 'gate' && now() > Number(item.start) + 0.25) {
      jump(Number(item.start), 'gate');
    }
    if (!memory.shown[item.id]) {
      memory.shown[item.id] = true;
      save();
      track('interaction_shown', { interaction_id: item.id });
    }
    var idle = !rec.returnTo || rec.returnTo === document.body || rec.returnTo === video ||
      player.contains(rec.returnTo);
    if (rec.modal || idle) {
      try {
        rec.el.focus({ preventScroll: true });
      } catch (err) { /* ignore */ }
    } else {
      announce(panels.title(item));
    }
    if (item.type === 'choice') {
      startCountdown(rec);
    }
  }

  function close(rec) {
    stopCountdown(rec);
    var hadFocus = rec.el.contains(document.activeElement);
    var i = opened.indexOf(rec);
    if (i >= 0) {
      opened.splice(i, 1);
    }
    if (rec.el.parentNode) {
      rec.el.parentNode.removeChild(rec.el);
    }
    refreshLayer();
    if (hadFocus) {
      focusVideo();
    }
    if (rec.modal && rec.resume && !modal()) {
      if (pending) {
        resumeAfterSeek = true;  // play from where the jump lands, not on the way there
      } else {
        resume();
      }
    }
  }

  function skip(rec, detail) {
    if (rec.busy) {
      return;
    }
    var item = rec.item;
    memory.skipped[item.id] = detail;
    save();
    track('interaction_skipped', { interaction_id: item.id, detail: detail });
    var t = tracker();
    if (t && typeof t.flush === 'function') {
      t.flush();
    }
    if (item.type === 'choice' && item.default) {
      choose(rec, item.default, 'default');
      return;
    }
    close(rec);
  }

  // ---- choose your path -------------------------------------------------------

  function choose(rec, section, reason) {
    memory.chosen[rec.item.id] = section;
    save();
    var target = paths.section(section);
    if (target) {
      jump(target.start, reason);
    }
    close(rec);
  }

  function pick(rec, section) {
    if (rec.busy) {
      return;
    }
    memory.answered[rec.item.id] = { section: section };
    send(rec.item, { section: section });
    choose(rec, section, 'choice');
    announce('Thanks! Playing your choice.');
  }

  function startCountdown(rec) {
    var item = rec.item;
    var seconds = Number(item.timeout) > 0 ? Number(item.timeout) : 10;
    var deadline = Date.now() + seconds * 1000;
    var label = panels.optionLabel(item, item.default);
    function tick() {
      var left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
      panels.countdown(rec.el, label ? 'Playing “' + label + '” in ' + left + ' s' : '');
      if (left <= 0) {
        stopCountdown(rec);
        skip(rec, 'timeout');
      }
    }
    tick();
    rec.timer = window.setInterval(tick, 250);
  }

  function stopCountdown(rec) {
    if (rec.timer !== null) {
      window.clearInterval(rec.timer);
      rec.timer = null;
      panels.countdown(rec.el, '');
    }
  }

  // ---- answers -------------------------------------------------------------------

  function wait(ms) {
    return new Promise(function (resolve) { window.setTimeout(resolve, ms); });
  }

  function detailOf(json, status) {
    var detail = json && json.detail;
    if (typeof detail === 'string' && detail) {
      return detail;
    }
    if (Array.isArray(detail) && detail.length) {
      return detail.map(function (d) {
        var where = Array.isArray(d && d.loc) ? d.loc.filter(function (p) { return p !== 'body'; }).join('.') : '';
        return (where ? where + ': ' : '') + String((d && d.msg) || 'invalid');
      }).join('; ');
    }
    return 'Your answer could not be saved (error ' + status + ').';
  }

  function postOnce(payload) {
    if (!responsesUrl || typeof window.fetch !== 'function') {
      return Promise.resolve({ ok: false, status: 0, retry: false, message: 'Answers cannot be sent from this browser.' });
    }
    return window.fetch(responsesUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: payload,
      keepalive: true,
      credentials: 'same-origin',
      cache: 'no-store'
    }).then(function (res) {
      return res.text().then(function (text) {
        var json = null;
        try {
          json = JSON.parse(text);
        } catch (err) { /* not JSON */ }
        var retry = res.status >= 500 || res.status === 408 || res.status === 429;
        var message = res.ok ? '' : (retry ? 'The answer could not be saved just now. Please try again.' : detailOf(json, res.status));
        return { ok: res.ok, status: res.status, retry: retry, message: message };
      });
    }, function () {
      return { ok: false, status: 0, retry: true, message: 'Your answer could not be sent. Check the connection and try again.' };
    });
  }

  // POST one answer, retried with the same event id; resolves (never rejects) with the outcome.
  function send(item, answerValue) {
    var t = tracker();
    var personal = !(t && typeof t.personal === 'function') || t.personal() === true;
    var payload = JSON.stringify({
      token: token,
      event_id: uuid(),
      session_id: personal ? sessionId() : undefined,
      interaction_id: item.id,
      answer: answerValue,
      position: position(),
      client_ts: personal ? new Date().toISOString() : undefined,
      consent: personal && config.tracking === 'consent' ? true : undefined
    });
    var attempt = 0;
    function once() {
      return postOnce(payload).then(function (res) {
        if (res.retry && attempt < RETRY_MS.length) {
          return wait(RETRY_MS[attempt++]).then(once);
        }
        return res;
      });
    }
    return once();
  }

  function answer(rec, value) {
    if (rec.busy) {
      return;
    }
    rec.busy = true;
    panels.busy(rec.el, true);
    panels.error(rec.el, '');
    send(rec.item, value).then(function (res) {
      rec.busy = false;
      panels.busy(rec.el, false);
      if (res.ok || res.status === 409) {
        memory.answered[rec.item.id] = value;
        save();
        close(rec);
        announce(res.status === 409 ? 'You had already answered this one. Thanks!' : 'Thanks! Your answer was sent.');
        return;
      }
      panels.error(rec.el, res.message);
    });
  }

  function calendarOpened(rec) {
    memory.answered[rec.item.id] = { opened: true };
    save();
    send(rec.item, { opened: true });
    close(rec);
    announce('The booking page opened in a new tab.');
  }

  // ---- keyboard: Esc skips, Tab stays inside a modal panel ------------------------

  function focusables(root) {
    var nodes = root.querySelectorAll('button:not([disabled]), a[href], input:not([disabled]), select:not([disabled]), textarea:not([disabled])');
    var out = [];
    for (var i = 0; i < nodes.length; i++) {
      if (nodes[i].getClientRects().length) {
        out.push(nodes[i]);
      }
    }
    return out;
  }

  function current() {
    var m = modal();
    if (m) {
      return m;
    }
    for (var i = opened.length - 1; i >= 0; i--) {
      if (opened[i].el.contains(document.activeElement)) {
        return opened[i];
      }
    }
    return null;
  }

  document.addEventListener('keydown', function (e) {
    var rec = current();
    if (!rec) {
      return;
    }
    if (e.key === 'Escape' || e.key === 'Esc') {
      if (rec.item.skippable) {
        e.preventDefault();
        skip(rec, 'escape');
      }
      return;
    }
    if (e.key !== 'Tab' || !rec.modal) {
      return;
    }
    var list = focusables(rec.el);
    if (!list.length) {
      e.preventDefault();
      return;
    }
    var first = list[0];
    var last = list[list.length - 1];
    var active = document.activeElement;
    if (e.shiftKey && (active === first || active === rec.el)) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && active === last) {
      e.preventDefault();
      first.focus();
    }
  });

  // Whatever else moves focus out of a modal panel (a radio group, a click behind it) brings it back.
  document.addEventListener('focusin', function (e) {
    var m = modal();
    if (m && !m.el.contains(e.target)) {
      var list = focusables(m.el);
      (list[0] || m.el).focus({ preventScroll: true });
    }
  });

  // ---- full screen: the wrapper, so the overlays show there too -------------------

  function fullscreenElement() {
    return document.fullscreenElement || document.webkitFullscreenElement || null;
  }

  function leaveVideoFullscreen() {
    if (fullscreenElement() === video) {
      var exit = document.exitFullscreen || document.webkitExitFullscreen;
      if (exit) {
        try {
          exit.call(document);
        } catch (err) { /* ignore */ }
      }
    }
    if (video.webkitDisplayingFullscreen && typeof video.webkitExitFullscreen === 'function') {
      video.webkitExitFullscreen();  // iPhone: a video in its own full screen hides the overlays
    }
  }

  var canFullscreen = !!(screenEl.requestFullscreen || screenEl.webkitRequestFullscreen) &&
    (document.fullscreenEnabled || document.webkitFullscreenEnabled);
  if (canFullscreen && screenEl !== player) {
    if (video.controlsList && typeof video.controlsList.add === 'function') {
      video.controlsList.add('nofullscreen');
    }
    video.disablePictureInPicture = true;
    var fsButton = panels.fullscreenButton();
    player.appendChild(fsButton);
    var toggle = function () {
      var req;
      if (fullscreenElement()) {
        req = (document.exitFullscreen || document.webkitExitFullscreen).call(document);
      } else {
        req = (screenEl.requestFullscreen || screenEl.webkitRequestFullscreen).call(screenEl);
      }
      if (req && typeof req.catch === 'function') {
        req.catch(function () { /* refused: stay as we are */ });
      }
    };
    fsButton.addEventListener('click', toggle);
    video.addEventListener('dblclick', function (e) {
      e.preventDefault();
      toggle();
    });
    var onFullscreen = function () {
      var on = fullscreenElement() === screenEl;
      fsButton.setAttribute('aria-pressed', on ? 'true' : 'false');
      fsButton.setAttribute('aria-label', on ? 'Exit full screen' : 'Full screen');
      screenEl.classList.toggle('is-fullscreen', on);
      if (fullscreenElement() === video && screenEl.requestFullscreen) {
        screenEl.requestFullscreen().catch(function () { /* needs a gesture: leave it */ });
      }
    };
    document.addEventListener('fullscreenchange', onFullscreen);
    document.addEventListener('webkitfullscreenchange', onFullscreen);
  }

  // ---- the clock --------------------------------------------------------------------

  var rafId = null;
  var frameId = null;

  function onFrame() {
    rafId = null;
    check();
    if (!video.paused && !video.ended) {
      rafId = window.requestAnimationFrame(onFrame);
    }
  }

  function onVideoFrame() {
    frameId = null;
    check();
    if (!video.paused && !video.ended) {
      frameId = video.requestVideoFrameCallback(onVideoFrame);
    }
  }

  function startClock() {
    if (rafId === null && typeof window.requestAnimationFrame === 'function') {
      rafId = window.requestAnimationFrame(onFrame);
    }
    if (frameId === null && typeof video.requestVideoFrameCallback === 'function') {
      frameId = video.requestVideoFrameCallback(onVideoFrame);
    }
  }

  video.addEventListener('play', function () {
    started = true;
    var held = modal();
    if (held) {
      video.pause();  // a question waits for its answer, where it was asked
      if (held.item.type === 'gate' && Math.abs(now() - Number(held.item.start)) > 0.001) {
        video.currentTime = Number(held.item.start) + offset;
      }
      return;
    }
    check();
    startClock();
  });
  video.addEventListener('playing', startClock);
  video.addEventListener('timeupdate', check);
  video.addEventListener('seeked', function () {
    if (pending) {
      pending.to = Number(video.currentTime);
      api.log.push(pending);
      pending = null;
    }
    prevT = now();
    paths.landed();
    if (resumeAfterSeek) {
      resumeAfterSeek = false;
      resume();
    }
    check();
  });
  video.addEventListener('loadedmetadata', check);
  video.addEventListener('loadeddata', check);
  video.addEventListener('loadstart', measureOffset);  // each new source
  measureOffset();

  check();
  if (!video.paused) {
    started = true;
    startClock();
  }
})();
