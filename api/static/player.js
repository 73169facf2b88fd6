/*
 * pvideo landing-page player: HLS when the page has a playlist, chapter buttons.
 *
 * HLS (video[data-hls]): played natively where the browser can
 * (canPlayType('application/vnd.apple.mpegurl')), else with hls.js loaded
 * from config.hls_js (/static/vendor/hls.min.js). If hls.js is missing,
 * unsupported or fails fatally, the MP4 in video[src] keeps playing.
 * Exposes window.pvideoPlayer = {mode, hls}. Works under CSP script-src 'self'.
 */
(function () {
  'use strict';

  var video = document.getElementById('pvideo-video');
  var state = { mode: 'mp4', hls: null };
  window.pvideoPlayer = state;
  if (!video) {
    return;
  }

  var config = {};
  try {
    var cfgEl = document.getElementById('pvideo-config');
    config = cfgEl ? (JSON.parse(cfgEl.textContent || '{}') || {}) : {};
  } catch (err) {
    config = {};
  }

  var mp4 = video.getAttribute('src');
  var hlsUrl = video.getAttribute('data-hls');

  function backToMp4() {
    if (state.hls) {
      try { state.hls.destroy(); } catch (err) { /* ignore */ }
      state.hls = null;
    }
    if (state.mode !== 'mp4' && mp4) {
      var at = video.currentTime || 0;
      state.mode = 'mp4';
      video.src = mp4;
      if (at) {
        video.addEventListener('loadedmetadata', function once() {
          video.removeEventListener('loadedmetadata', once);
          video.currentTime = at;
        });
      }
    }
  }

  function startHlsJs() {
    var Hls = window.Hls;
    if (!Hls || typeof Hls.isSupported !== 'function' || !Hls.isSupported()) {
      return;  // the MP4 stays
    }
    var hls = new Hls();
    state.hls = hls;
    state.mode = 'hls.js';
    hls.on(Hls.Events.ERROR, function (_event, data) {
      if (data && data.fatal) {
        backToMp4();
      }
    });
    hls.loadSource(hlsUrl);
    hls.attachMedia(video);
  }

  if (hlsUrl) {
    if (video.canPlayType('application/vnd.apple.mpegurl')) {
      state.mode = 'native-hls';
      video.src = hlsUrl;
      video.addEventListener('error', function onError() {
        video.removeEventListener('error', onError);
        backToMp4();
      });
    } else if (window.MediaSource && typeof config.hls_js === 'string') {
      var script = document.createElement('script');
      script.src = config.hls_js;
      script.async = true;
      script.onload = startHlsJs;
      script.onerror = function () { /* no hls.js here: the MP4 stays */ };
      document.head.appendChild(script);
    }
  }

  // ---- chapters --------------------------------------------------------

  var buttons = document.querySelectorAll('.pvideo-chapter[data-seek]');

  function markChapter() {
    var t = video.currentTime || 0;
    var current = null;
    for (var i = 0; i < buttons.length; i++) {
      if (parseFloat(buttons[i].getAttribute('data-seek')) <= t + 0.05) {
        current = buttons[i];
      }
    }
    for (var j = 0; j < buttons.length; j++) {
      if (buttons[j] === current) {
        buttons[j].setAttribute('aria-current', 'true');
      } else {
        buttons[j].removeAttribute('aria-current');
      }
    }
  }

  for (var k = 0; k < buttons.length; k++) {
    buttons[k].addEventListener('click', function (e) {
      var at = parseFloat(e.currentTarget.getAttribute('data-seek'));
      if (isFinite(at)) {
        video.currentTime = at;
        var p = video.play();
        if (p && typeof p.catch === 'function') {
          p.catch(function () { /* autoplay refused: stay paused at the chapter */ });
        }
      }
    });
  }
  if (buttons.length) {
    video.addEventListener('timeupdate', markChapter);
    video.addEventListener('seeked', markChapter);
    markChapter();
  }
})();
