// The timeline: the playhead (scrub with the slider, or play), and one bar per layer showing its
// window [start, end). A bar moves by dragging its middle and resizes by dragging an end; with a
// bar focused, ← → move the window 0.1 s (Shift: 1 s) and Alt+← → change its end. Times are
// rounded to 0.1 s and snap to the playhead; a change is committed when released or keys rest.
const STEP = 0.1;
const EDGE_PX = 8;
const SNAP_PX = 6;
const KEY_REST_MS = 300;

const round = (seconds) => Math.round(seconds / STEP) * STEP;
const format = (seconds) => `${seconds.toFixed(2)} s`;

export function timeline(root, { onSeek, onSelect, onCommit }) {
  const slider = root.querySelector("[data-playhead]");
  const readout = root.querySelector("[data-time]");
  const play = root.querySelector("[data-play]");
  const tracks = root.querySelector("[data-tracks]");
  let duration = 1;
  let playing = null;
  let pending = null;
  let bars = new Map();
  let dragging = false;
  let deferred = null;  // a render asked for while a bar was held: done when it is let go

  const seek = (seconds, { quiet = false } = {}) => {
    const at = Math.min(Math.max(0, seconds), duration);
    slider.value = String(at);
    readout.textContent = format(at);
    for (const cursor of tracks.querySelectorAll("[data-cursor]")) cursor.style.left = `${(at / duration) * 100}%`;
    if (!quiet) onSeek(at);
  };
  slider.addEventListener("input", () => seek(Number(slider.value)));

  const stop = () => {
    if (!playing) return;
    cancelAnimationFrame(playing.frame);
    playing = null;
    play.textContent = "Play";
    play.setAttribute("aria-pressed", "false");
  };
  play.addEventListener("click", () => {
    if (playing) { stop(); return; }
    if (Number(slider.value) >= duration - 0.05) seek(0);
    const from = Number(slider.value);  // the slider rounds to its step: the time is kept here
    const began = performance.now();
    play.textContent = "Pause";
    play.setAttribute("aria-pressed", "true");
    const tick = (now) => {
      const at = from + (now - began) / 1000;
      if (at >= duration) { seek(duration); stop(); return; }
      seek(at);
      playing.frame = requestAnimationFrame(tick);
    };
    playing = { frame: requestAnimationFrame(tick) };
  });

  const windowOf = (layer) => ({ start: layer.start, end: layer.end ?? duration });
  const place = (bar, win) => {
    bar.style.left = `${(win.start / duration) * 100}%`;
    bar.style.width = `${(Math.max(0, win.end - win.start) / duration) * 100}%`;
    bar.setAttribute("aria-valuetext", `${format(win.start)} to ${format(win.end)}`);
  };

  function drag(event, index) {
    const found = bars.get(index);
    if (!found || event.button !== 0) return;
    event.preventDefault();
    onSelect(index);
    const { bar, track } = found;
    const rect = bar.getBoundingClientRect();
    const mode = event.clientX - rect.left < EDGE_PX ? "start" : rect.right - event.clientX < EDGE_PX ? "end" : "move";
    bar.setPointerCapture(event.pointerId);
    dragging = true;
    const perPixel = duration / Math.max(1, track.clientWidth);
    const origin = event.clientX;
    const begin = { ...found.win };
    const length = begin.end - begin.start;
    const playhead = Number(slider.value);
    const snapTo = (t) => (Math.abs(t - playhead) <= SNAP_PX * perPixel ? playhead : round(t));
    let win = begin;
    const move = (e) => {
      const dt = (e.clientX - origin) * perPixel;
      if (mode === "move") {
        const start = snapTo(Math.min(Math.max(0, begin.start + dt), duration - length));
        win = { start, end: +(start + length).toFixed(3) };
      } else if (mode === "start") {
        win = { start: Math.min(Math.max(0, snapTo(begin.start + dt)), begin.end - STEP), end: begin.end };
      } else {
        win = { start: begin.start, end: Math.max(Math.min(duration, snapTo(begin.end + dt)), begin.start + STEP) };
      }
      place(bar, win);
    };
    const up = () => {
      bar.removeEventListener("pointermove", move);
      bar.removeEventListener("pointerup", up);
      bar.removeEventListener("pointercancel", up);
      dragging = false;
      if (win.start !== begin.start || win.end !== begin.end) commit(index, win);
      else if (deferred) api.render(...deferred);
    };
    bar.addEventListener("pointermove", move);
    bar.addEventListener("pointerup", up);
    bar.addEventListener("pointercancel", up);
  }

  function commit(index, win) {
    const found = bars.get(index);
    found.win = win;
    onCommit(index, { start: +win.start.toFixed(2), end: +win.end.toFixed(2) });
  }

  function keys(event, index) {
    const direction = { ArrowLeft: -1, ArrowRight: 1 }[event.key];
    if (!direction || event.ctrlKey || event.metaKey) return;
    event.preventDefault();
    const found = bars.get(index);
    const step = (event.shiftKey ? 1 : STEP) * direction;
    const win = { ...found.win };
    if (event.altKey) {
      win.end = Math.min(duration, Math.max(win.start + STEP, round(win.end + step)));
    } else {
      const length = win.end - win.start;
      win.start = Math.min(Math.max(0, round(win.start + step)), duration - length);
      win.end = +(win.start + length).toFixed(3);
    }
    found.win = win;
    place(found.bar, win);
    clearTimeout(pending?.timer);
    pending = { timer: setTimeout(() => { pending = null; commit(index, win); }, KEY_REST_MS) };
  }

  const api = {
    get at() { return Number(slider.value); },
    seek,
    setDuration(seconds) {
      duration = Math.max(0.04, seconds || 1);
      slider.max = String(duration);
      if (Number(slider.value) > duration) seek(duration, { quiet: true });
    },
    render(layers, selected) {
      if (pending || dragging) {
        deferred = [layers, selected];
        return;
      }
      deferred = null;
      const focused = document.activeElement?.dataset?.bar;
      tracks.replaceChildren();
      bars = new Map();
      for (const layer of layers) {
        const row = document.createElement("div");
        row.className = "track-row";
        const name = document.createElement("span");
        name.className = "track-name";
        name.textContent = layer.id || `${layer.type} ${layer.index + 1}`;
        const track = document.createElement("div");
        track.className = "track";
        const cursor = document.createElement("div");
        cursor.className = "track-cursor";
        cursor.dataset.cursor = "";
        cursor.setAttribute("aria-hidden", "true");
        const bar = document.createElement("div");
        bar.className = `bar bar-${layer.type}`;
        bar.dataset.bar = String(layer.index);
        bar.tabIndex = 0;
        bar.setAttribute("role", "slider");
        bar.setAttribute("aria-label", `Window of ${name.textContent}`);
        bar.setAttribute("aria-valuemin", "0");
        bar.setAttribute("aria-valuemax", String(duration));
        bar.setAttribute("aria-valuenow", String(layer.start));
        if (layer.index === selected) bar.classList.add("selected");
        const win = windowOf(layer);
        place(bar, win);
        bar.addEventListener("pointerdown", (e) => drag(e, layer.index));
        bar.addEventListener("keydown", (e) => keys(e, layer.index));
        bar.addEventListener("focus", () => onSelect(layer.index, { fromFocus: true }));
        track.append(bar, cursor);
        row.append(name, track);
        tracks.append(row);
        bars.set(layer.index, { bar, track, win });
      }
      seek(Number(slider.value), { quiet: true });
      if (focused !== undefined) bars.get(Number(focused))?.bar.focus({ preventScroll: true });
    },
    select(index) {
      for (const [i, { bar }] of bars) bar.classList.toggle("selected", i === index);
    },
    stop,
  };
  return api;
}
