/*
 * pvideo interactive player: choose-your-path on the content's timeline, as decisions only
 * (interactive.js makes the seeks). Times are the customer's output seconds, as in
 * config.interactive.sections: [{name, start, end, then}].
 *
 * - A section offered by a `choice` is a branch. Once the choice has a pick (`chosen`, keyed by
 *   the choice's id, shared with interactive.js), its other branches are passed over: playback
 *   that would enter one goes to its end (and on, while the next is one too).
 * - At the end of the chosen branch playback goes on at its `then`: a section's start (that
 *   section plays even if it is itself a branch not chosen), or "end" (the end of the video);
 *   with no `then`, it goes on past the branches not chosen.
 * - Decisions are taken `lead` seconds before a boundary, so the seek is made before the next
 *   section's first frame is due. When the page was too busy to look in time and playback has
 *   crossed a boundary already, the decision for that boundary is taken late rather than lost.
 * - A choice without a pick passes nothing over: the video plays as it is.
 *
 * Global: window.pvideoPaths(sections, interactions, chosen, lead, endTime) -> {
 *   next(t): {target, reason} to seek to now (reason skip | then | end), or null;
 *   landed(): after any seek (the next look does not count it as crossing a boundary);
 *   nextBoundary(t): the next section start or end after t; section(name) }.
 */
(function () {
  'use strict';

  var EPS = 0.002;

  function pvideoPaths(sectionList, interactions, chosen, lead, endTime) {
    var sections = (sectionList || []).slice().sort(function (a, b) { return a.start - b.start; });
    var byName = {};
    var branchOf = {};     // section name -> the choices that offer it
    var viaThen = {};      // sections reached by a `then`: played whatever the choices say
    var boundaries = [];
    var last = null;       // the section of the previous look (null: none, or just after a seek)

    sections.forEach(function (s) {
      byName[s.name] = s;
      boundaries.push(s.start, s.end);
    });
    (interactions || []).forEach(function (item) {
      if (item.type === 'choice') {
        (item.options || []).forEach(function (o) {
          (branchOf[o.section] = branchOf[o.section] || []).push(item.id);
        });
      }
    });

    function isSkipped(s) {
      if (viaThen[s.name]) {
        return false;
      }
      var choices = branchOf[s.name] || [];
      for (var i = 0; i < choices.length; i++) {
        if (chosen[choices[i]] && chosen[choices[i]] !== s.name) {
          return true;
        }
      }
      return false;
    }

    function isChosen(s) {
      var choices = branchOf[s.name] || [];
      for (var i = 0; i < choices.length; i++) {
        if (chosen[choices[i]] === s.name) {
          return true;
        }
      }
      return !!viaThen[s.name];
    }

    function sectionAt(t) {
      for (var i = 0; i < sections.length; i++) {
        if (sections[i].start - EPS <= t && t < sections[i].end) {
          return sections[i];
        }
      }
      return null;
    }

    function startingAt(t) {
      for (var i = 0; i < sections.length; i++) {
        if (Math.abs(sections[i].start - t) < EPS) {
          return sections[i];
        }
      }
      return null;
    }

    // From `t` past every branch not chosen that starts there (and the ones right after it).
    function skipFrom(t) {
      for (var guard = 0; guard <= sections.length; guard++) {
        var s = startingAt(t);
        if (!s || !isSkipped(s)) {
          break;
        }
        t = s.end;
      }
      return t;
    }

    function nextBoundary(t) {
      var next = null;
      for (var i = 0; i < boundaries.length; i++) {
        if (boundaries[i] > t && (next === null || boundaries[i] < next)) {
          next = boundaries[i];
        }
      }
      return next;
    }

    // Where playback goes on when it leaves `sec` at its end; null: on as it is.
    function exitOf(sec) {
      var target = sec.end;
      var reason = 'skip';
      if (sec.then && isChosen(sec)) {
        if (sec.then === 'end') {
          return { target: endTime(), reason: 'end' };
        }
        var next = byName[sec.then];
        if (next) {  // a `then` the row cut from its video goes on as if there were none
          viaThen[next.name] = true;
          target = next.start;
          reason = 'then';
        }
      }
      target = skipFrom(target);
      return Math.abs(target - sec.end) < EPS ? null : { target: target, reason: reason };
    }

    function next(t) {
      if (!sections.length) {
        return null;
      }
      var cur = sectionAt(t);
      var prev = last;
      last = cur;
      if (prev && prev !== cur && t >= prev.end && t < prev.end + 1) {
        var late = exitOf(prev);
        if (late) {
          return late;
        }
      }
      if (cur && isSkipped(cur) && t >= cur.start) {
        return { target: skipFrom(cur.end), reason: 'skip' };
      }
      var b = nextBoundary(t);
      if (b === null || t < b - lead) {
        return null;
      }
      if (cur && Math.abs(cur.end - b) < EPS) {
        return exitOf(cur);
      }
      var target = skipFrom(b);
      return Math.abs(target - b) < EPS ? null : { target: target, reason: 'skip' };
    }

    return {
      next: next,
      landed: function () { last = null; },
      nextBoundary: nextBoundary,
      section: function (name) { return byName[name] || null; }
    };
  }

  window.pvideoPaths = pvideoPaths;
})();
