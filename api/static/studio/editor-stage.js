// The frame at the playhead with every layer's box drawn over it. A box moves by dragging (or the
// arrow keys, Shift for 10 px) and resizes by its corner handles; edges and centres snap to the
// frame's edges and centre lines. Positions are frame pixels; the drawing is in percent of the
// frame, so it follows the picture at any width. The box moves on screen at once and the change
// is committed (one edit, one undo step) when the pointer is released or the keys rest.
const SNAP_PX = 8;  // on screen
const NUDGE_REST_MS = 300;
const HANDLES = ["nw", "ne", "sw", "se"];

function describe(layer) {
  const name = layer.id || `${layer.type} ${layer.index + 1}`;
  return `${name} (${layer.type}): x ${Math.round(layer.x)}, y ${Math.round(layer.y)}, ` +
    `${Math.round(layer.w)} by ${Math.round(layer.h)} pixels`;
}

// ``value`` moved onto the nearest of ``targets`` within ``reach``: [value, the target or null].
function snap(points, targets, reach) {
  let best = null;
  for (const [offset, point] of points) {
    for (const target of targets) {
      const distance = Math.abs(point - target);
      if (distance <= reach && (!best || distance < best.distance)) best = { distance, shift: target - point, target, offset };
    }
  }
  return best;
}

export function frameStage(root, { onSelect, onCommit }) {
  const image = root.querySelector("[data-frame]");
  const layer = root.querySelector("[data-boxes]");
  const guides = { v: root.querySelector("[data-guide=v]"), h: root.querySelector("[data-guide=h]") };
  let frame = { width: 1280, height: 720 };
  let boxes = new Map();  // layer index -> {element, layer}
  let nudge = null;
  let dragging = null;  // the index of the box under the pointer: a re-render leaves it alone

  function create(item) {
    const element = document.createElement("div");
    element.className = "box";
    element.dataset.box = String(item.index);
    element.dataset.type = item.type;
    element.tabIndex = 0;
    element.setAttribute("role", "button");
    const tag = document.createElement("span");
    tag.className = "box-tag";
    tag.setAttribute("aria-hidden", "true");
    element.append(tag);
    for (const handle of HANDLES) {
      const grip = document.createElement("span");
      grip.className = `handle ${handle}`;
      grip.setAttribute("aria-hidden", "true");
      grip.addEventListener("pointerdown", (e) => drag(e, Number(element.dataset.box), handle));
      element.append(grip);
    }
    element.addEventListener("pointerdown", (e) => drag(e, Number(element.dataset.box), null));
    element.addEventListener("keydown", (e) => keys(e, Number(element.dataset.box)));
    element.addEventListener("focus", () => onSelect(Number(element.dataset.box), { fromFocus: true }));
    return element;
  }

  const place = (element, box) => {
    element.style.left = `${(box.x / frame.width) * 100}%`;
    element.style.top = `${(box.y / frame.height) * 100}%`;
    element.style.width = `${(box.w / frame.width) * 100}%`;
    element.style.height = `${(box.h / frame.height) * 100}%`;
  };
  const showGuide = (axis, at) => {
    const guide = guides[axis];
    guide.hidden = at === null;
    if (at === null) return;
    if (axis === "v") guide.style.left = `${(at / frame.width) * 100}%`;
    else guide.style.top = `${(at / frame.height) * 100}%`;
  };
  const hideGuides = () => { showGuide("v", null); showGuide("h", null); };
  hideGuides();

  function snapped(box, moving) {
    const reach = (SNAP_PX * frame.width) / Math.max(1, layer.clientWidth);
    const xs = [0, frame.width / 2, frame.width];
    const ys = [0, frame.height / 2, frame.height];
    const edges = (start, size, sides) => sides.map((side) => [side, start + side * size]);
    const x = snap(edges(box.x, box.w, moving.x), xs, reach);
    const y = snap(edges(box.y, box.h, moving.y), ys, reach);
    const out = { ...box };
    if (x) {
      if (moving.resize) { if (x.offset === 0) { out.x += x.shift; out.w -= x.shift; } else out.w += x.shift; } else out.x += x.shift;
    }
    if (y) {
      if (moving.resize) { if (y.offset === 0) { out.y += y.shift; out.h -= y.shift; } else out.h += y.shift; } else out.y += y.shift;
    }
    showGuide("v", x ? x.target : null);
    showGuide("h", y ? y.target : null);
    return out;
  }

  function drag(event, index, handle) {
    const found = boxes.get(index);
    if (!found || event.button !== 0) return;
    event.preventDefault();
    event.stopPropagation();
    onSelect(index);
    const element = found.element;
    element.setPointerCapture(event.pointerId);
    dragging = index;
    const scale = frame.width / Math.max(1, layer.clientWidth);
    const origin = { x: event.clientX, y: event.clientY };
    const start = { x: found.layer.x, y: found.layer.y, w: found.layer.w, h: found.layer.h };
    let box = start;
    const move = (e) => {
      const dx = (e.clientX - origin.x) * scale;
      const dy = (e.clientY - origin.y) * scale;
      let next = { ...start };
      if (!handle) {
        next.x += dx;
        next.y += dy;
        box = snapped(next, { x: [0, 0.5, 1], y: [0, 0.5, 1] });
      } else {
        if (handle.includes("w")) { next.x += Math.min(dx, start.w - 4); next.w -= Math.min(dx, start.w - 4); }
        if (handle.includes("e")) next.w = Math.max(4, start.w + dx);
        if (handle.includes("n")) { next.y += Math.min(dy, start.h - 4); next.h -= Math.min(dy, start.h - 4); }
        if (handle.includes("s")) next.h = Math.max(4, start.h + dy);
        next = snapped(next, { resize: true, x: [handle.includes("w") ? 0 : 1], y: [handle.includes("n") ? 0 : 1] });
        box = { ...next, w: Math.max(4, next.w), h: Math.max(4, next.h) };
      }
      place(element, box);
    };
    const up = () => {
      dragging = null;
      element.removeEventListener("pointermove", move);
      element.removeEventListener("pointerup", up);
      element.removeEventListener("pointercancel", up);
      hideGuides();
      const rounded = Object.fromEntries(Object.entries(box).map(([k, v]) => [k, Math.round(v)]));
      if (["x", "y", "w", "h"].some((k) => rounded[k] !== Math.round(start[k]))) {
        Object.assign(found.layer, rounded);
        onCommit(index, rounded);
      }
    };
    element.addEventListener("pointermove", move);
    element.addEventListener("pointerup", up);
    element.addEventListener("pointercancel", up);
  }

  function keys(event, index) {
    const steps = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      onSelect(index, { focusForm: event.key === "Enter" });
      return;
    }
    const step = steps[event.key];
    if (!step || event.altKey || event.ctrlKey || event.metaKey) return;
    event.preventDefault();
    const found = boxes.get(index);
    const size = event.shiftKey ? 10 : 1;
    found.layer.x = Math.round(found.layer.x + step[0] * size);
    found.layer.y = Math.round(found.layer.y + step[1] * size);
    place(found.element, found.layer);
    found.element.setAttribute("aria-label", describe(found.layer));
    clearTimeout(nudge?.timer);
    nudge = { index, timer: setTimeout(() => {
      nudge = null;
      onCommit(index, { x: found.layer.x, y: found.layer.y, w: Math.round(found.layer.w), h: Math.round(found.layer.h) });
    }, NUDGE_REST_MS) };
  }

  return {
    get frame() { return frame; },
    /** Draw ``layers`` (boxes of those outside their window at ``at`` are dimmed). */
    render(layers, size, selected, at) {
      frame = size;
      const kept = new Map();
      for (const item of layers) {
        if (item.x === null || item.x === undefined || !item.w) continue;  // audio: no box
        const found = boxes.get(item.index);
        const element = found && found.element.dataset.type === item.type ? found.element : create(item);
        element.setAttribute("aria-pressed", String(item.index === selected));
        element.querySelector(".box-tag").textContent = item.id || item.type;
        const end = item.end ?? Infinity;
        element.classList.toggle("inactive", at < item.start || at >= end);
        const busy = dragging === item.index || nudge?.index === item.index;
        const shown = busy ? found.layer : { ...item };
        element.setAttribute("aria-label", describe(shown));
        if (!busy) place(element, item);
        kept.set(item.index, { element, layer: shown });
      }
      for (const [index, { element }] of boxes) if (kept.get(index)?.element !== element) element.remove();
      for (const { element } of kept.values()) if (!element.isConnected) layer.append(element);
      boxes = kept;
    },
    select(index) {
      for (const [i, { element }] of boxes) element.setAttribute("aria-pressed", String(i === index));
    },
    focus(index) { boxes.get(index)?.element.focus(); },
    /** Show a frame (a data: URL: the CSP allows data: images, not blob:). */
    show(url, alt) {
      image.src = url;
      image.alt = alt;
    },
    sizeTo(size) {
      frame = size;
      root.style.setProperty("--frame-ratio", `${size.width} / ${size.height}`);
    },
  };
}
