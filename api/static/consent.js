/*
 * pvideo consent banner: a landing page of a campaign tracking with consent (config.tracking
 * "consent") asks its viewer before anything personal is sent (pvideo/privacy/consent.py).
 * Plain JS, CSP-safe: no inline script or style; loaded before tracker.js, which asks it.
 *
 * - The browser refusing tracking (navigator.globalPrivacyControl === true, or Do Not Track)
 *   is the viewer's answer: the banner is never shown and the state stays "refused" whatever
 *   the page does (accept() is a no-op then).
 * - Otherwise a choice made on this page before (localStorage, per link) is kept: Accept and
 *   Decline are both remembered, so a viewer who declined is never asked again for this page.
 * - Otherwise the banner (#pvideo-consent, role=region, labelled by its heading) is shown with
 *   two buttons; after a choice it goes and the focus moves to the video.
 *
 * Globals: window.pvideoConsent = {state, accepted, accept, decline, onChange}; state() is
 * "pending", "accepted", "declined" or "refused".
 */
(function () {
  'use strict';

  var config = {};
  try {
    var cfgEl = document.getElementById('pvideo-config');
    config = cfgEl ? (JSON.parse(cfgEl.textContent || '{}') || {}) : {};
  } catch (err) {
    config = {};
  }
  var KEY = 'pvideo.consent.' + (typeof config.token === 'string' ? config.token : '');
  var banner = document.getElementById('pvideo-consent');
  var listeners = [];

  function browserRefuses() {
    var nav = window.navigator || {};
    var dnt = nav.doNotTrack || window.doNotTrack || nav.msDoNotTrack;
    return nav.globalPrivacyControl === true || dnt === '1' || dnt === 'yes';
  }

  function remembered() {
    try {
      var v = window.localStorage.getItem(KEY);
      return v === 'accepted' || v === 'declined' ? v : null;
    } catch (err) {
      return null;
    }
  }

  function remember(choice) {
    try {
      window.localStorage.setItem(KEY, choice);
    } catch (err) { /* storage off: the choice holds for this page view */ }
  }

  var state = config.tracking !== 'consent' ? 'refused' : (browserRefuses() ? 'refused' : (remembered() || 'pending'));

  function choose(choice) {
    if (state === 'refused' || browserRefuses()) {
      state = 'refused';
      return;
    }
    state = choice;
    remember(choice);
    if (banner && !banner.hidden) {
      banner.hidden = true;
      var video = document.getElementById('pvideo-video');
      if (video) {
        try { video.focus({ preventScroll: true }); } catch (err) { /* ignore */ }
      }
    }
    for (var i = 0; i < listeners.length; i++) {
      try { listeners[i](state); } catch (err) { /* a listener's error is its own */ }
    }
  }

  if (banner) {
    var buttons = banner.querySelectorAll('button[data-consent]');
    for (var b = 0; b < buttons.length; b++) {
      buttons[b].addEventListener('click', function (e) {
        choose(e.currentTarget.getAttribute('data-consent') === 'accepted' ? 'accepted' : 'declined');
      });
    }
    banner.hidden = state !== 'pending';
  }

  window.pvideoConsent = {
    state: function () { return state; },
    // re-checked each time: a page cannot turn Global Privacy Control off after loading
    accepted: function () { return state === 'accepted' && !browserRefuses(); },
    accept: function () { choose('accepted'); },
    decline: function () { choose('declined'); },
    onChange: function (fn) {
      if (typeof fn === 'function') {
        listeners.push(fn);
      }
    }
  };
})();
