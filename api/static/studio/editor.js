// The scene editor (api/templates/studio/editor.html): one YAML document, shown as text
// (CodeMirror), as boxes over the frame, as bars on a timeline and as the selected layer's form.
// Text typed in the YAML panel is the document; an edit made anywhere else is sent to the server
// (``apply``: a round-trip YAML edit that keeps comments) and its answer replaces the text, so
// undo/redo (CodeMirror's history) covers every kind of edit. After each change the server parses
// the text (layers, problems, fields) and renders the frame at the playhead with the production
// engine; the newest answer wins.
import { Busy, Problems, editorApi } from "./editor-api.js";
import { layerName, layerPanels, sampleRow } from "./editor-form.js";
import { frameStage } from "./editor-stage.js";
import { timeline } from "./editor-timeline.js";
import { versionPanels } from "./editor-versions.js";
import { yamlPanel } from "./editor-yaml.js";

const CHANGE_REST_MS = 150;
const root = document.querySelector("[data-editor]");

if (root) boot();

function boot() {
  const api = editorApi(root.dataset.api);
  const announcer = root.querySelector("[data-announce]");
  const frameStatus = root.querySelector("[data-frame-status]");
  const say = (text) => { announcer.textContent = text; };
  const state = {
    layers: [], frame: { width: 1280, height: 720 }, duration: 1, problems: [], selected: null,
    fieldsKnown: false,  // the first parse gave the fields, so the sample row can be sent
    base: root.dataset.base || null,  // the version the text was opened from, or last saved as
  };
  let parseRun = { seq: 0, controller: null };
  let changeTimer = 0;

  const doc = yamlPanel(root.querySelector("[data-yaml]"), JSON.parse(document.getElementById("scene-yaml").textContent), {
    onChange: () => {
      preview.want();
      clearTimeout(changeTimer);
      changeTimer = setTimeout(refresh, CHANGE_REST_MS);
    },
    onHistory: (undos, redos) => {
      root.querySelector("[data-undo]").disabled = undos === 0;
      root.querySelector("[data-redo]").disabled = redos === 0;
    },
  });

  // -- edits sent to the server -------------------------------------------------------------
  // Edits go one after the other, each on the text the one before it left; text typed in the
  // YAML panel while one is on its way makes it go again on the newer text.
  let applying = Promise.resolve();
  function apply(edits, what) {
    const run = applying.then(() => applyNow(edits, what));
    applying = run.catch(() => false);
    return run;
  }

  async function applyNow(edits, what) {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const sent = doc.text();
      let answer;
      try {
        answer = await api.apply(sent, edits);
      } catch (error) {
        if (error instanceof Problems) showProblems(error.problems);
        say(`Not changed: ${error.message}`);
        render();  // put boxes and bars back where the document has them
        return false;
      }
      if (doc.text() !== sent) continue;  // typed meanwhile: the same edit again on the new text
      doc.replace(answer.yaml);
      say(what);
      return true;
    }
    return false;
  }

  const setFields = (index, values) => {
    const layer = state.layers.find((l) => l.index === index);
    const fields = Object.keys(values).join(", ");
    return apply([{ layer: index, set: values }], `${layer ? layerName(layer) : "Layer"}: ${fields} changed`);
  };

  // -- selection ------------------------------------------------------------------------------
  function select(index, { focusForm = false, fromFocus = false } = {}) {
    if (state.selected !== index) {
      state.selected = index;
      stage.select(index);
      bars.select(index);
      panels.render(state.layers, index);
    }
    if (focusForm) panels.focusForm();
    else if (!fromFocus) stage.focus(index);
  }

  const stage = frameStage(root.querySelector("[data-stage]"), {
    onSelect: (index, how) => select(index, { ...how, fromFocus: true }),
    onCommit: (index, box) => setFields(index, box),  // the server keeps the box's units and anchor
  });
  const bars = timeline(root.querySelector(".timeline"), {
    onSeek: (at) => {
      stage.render(state.layers, state.frame, state.selected, at);
      preview.want({ soon: true });
    },
    onSelect: (index) => select(index, { fromFocus: true }),
    onCommit: (index, win) => setFields(index, win),
  });
  const panels = layerPanels(root, {
    onSelect: (index, how) => select(index, how),
    onSet: setFields,
    onAdd: async (type) => {
      const at = Math.min(bars.at, Math.max(0, state.duration - 0.5));
      const { width, height } = state.frame;
      const box = { x: Math.round(width * 0.1), y: Math.round(height * 0.1), w: Math.round(width * 0.4), h: Math.round(height * 0.15) };
      const start = Math.round(at * 10) / 10;
      const end = Math.round(Math.min(state.duration, start + 3) * 10) / 10;
      const before = state.layers.length;
      if (await apply([{ add: { type, start, end, ...box } }], `A ${type} layer was added`)) {
        state.selected = before;
        pendingFocus = true;
      }
    },
    onRemove: (index) => {
      const layer = state.layers.find((l) => l.index === index);
      state.selected = null;
      apply([{ remove: index }], `${layer ? layerName(layer) : "The layer"} was removed`);
    },
  });
  let pendingFocus = false;
  const sample = sampleRow(root, { onChange: () => preview.want(), rows: api.rows });

  // -- parse: layers, problems, fields --------------------------------------------------------
  function render() {
    stage.sizeTo(state.frame);
    stage.render(state.layers, state.frame, state.selected, bars.at);
    bars.setDuration(state.duration);
    bars.render(state.layers, state.selected);
    panels.render(state.layers, state.selected);
    if (pendingFocus) {
      pendingFocus = false;
      panels.focusForm();
    }
  }

  async function refresh() {
    parseRun.controller?.abort();
    const run = { seq: parseRun.seq + 1, controller: new AbortController() };
    parseRun = run;
    const text = doc.text();
    let parsed;
    try {
      parsed = await api.parse(text, run.controller.signal);
    } catch (error) {
      if (error.name === "AbortError") return;
      showProblems(error instanceof Problems ? error.problems : [{ message: `The scene could not be checked: ${error.message}` }]);
      return;
    }
    if (run !== parseRun || text !== doc.text()) return;  // the text changed meanwhile: its own parse follows
    if (parsed.frame?.width) state.frame = parsed.frame;
    if (parsed.duration) state.duration = parsed.duration;
    // a text that does not load has no layers or fields: the last ones stay while it is being typed
    const loaded = Array.isArray(parsed.layers) && (parsed.layers.length > 0 || !(parsed.problems || []).length);
    if (loaded) state.layers = parsed.layers;
    if (state.selected !== null && !state.layers.some((l) => l.index === state.selected)) state.selected = null;
    if (loaded && Array.isArray(parsed.fields) && (sample.setFields(parsed.fields) || !state.fieldsKnown)) {
      state.fieldsKnown = true;
      preview.want();
    }
    render();
    showProblems(parsed.problems || []);
  }

  function showProblems(problems) {
    state.problems = problems;
    doc.showProblems(problems);
    const list = root.querySelector("[data-problems]");
    list.replaceChildren();
    for (const problem of problems) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "problem";
      const where = [
        problem.layer_id || (problem.layer !== null && problem.layer !== undefined ? `layer ${problem.layer + 1}` : ""),
        problem.field || "",
        problem.line ? `line ${problem.line}` : "",
      ].filter(Boolean).join(" · ");
      const place = document.createElement("span");
      place.className = "problem-where";
      place.textContent = where || "scene";
      const message = document.createElement("span");
      message.textContent = problem.message;
      button.append(place, message);
      button.addEventListener("click", () => {
        if (problem.layer !== null && problem.layer !== undefined) select(problem.layer, { fromFocus: true });
        if (problem.line) doc.goToLine(problem.line, problem.column || 1);
      });
      item.append(button);
      list.append(item);
    }
    root.querySelector("[data-problem-count]").textContent = String(problems.length);
    root.querySelector("[data-no-problems]").hidden = problems.length > 0;
  }

  // -- the frame at the playhead --------------------------------------------------------------
  // One request at a time; a change while one runs asks for another when it ends, with the
  // newest text, row and time (so playing shows frames as fast as the server makes them).
  // ``data-wanted`` counts the changes that call for a new frame, ``data-shown`` the change the
  // frame on screen was made for: equal, the frame is up to date.
  const preview = (() => {
    const stageElement = root.querySelector("[data-stage]");
    let running = false;
    let again = false;
    let timer = 0;
    let wanted = 0;
    const toDataUrl = (blob) => new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(reader.result);
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(blob);
    });
    async function run() {
      if (running) { again = true; return; }
      running = true;
      again = false;
      const at = bars.at;
      const number = wanted;
      try {
        frameStatus.textContent = `Rendering the frame at ${at.toFixed(2)} s…`;
        const png = await api.preview(doc.text(), sample.values(), at);
        stage.show(await toDataUrl(png), `The frame at ${at.toFixed(2)} s with the sample row`);
        stageElement.dataset.shown = String(number);
        frameStatus.textContent = `The frame at ${at.toFixed(2)} s`;
      } catch (error) {
        if (error instanceof Busy) again = true;
        frameStatus.textContent = `The frame is not updated: ${error.message}`;
      } finally {
        running = false;
        if (again) timer = setTimeout(run, 50);
      }
    }
    return {
      /** A new frame is needed: after the text rests, or (``soon``: scrubbing, playing) as soon as
       * the one being made is done. */
      want({ soon = false } = {}) {
        wanted += 1;
        stageElement.dataset.wanted = String(wanted);
        clearTimeout(timer);
        if (!state.fieldsKnown) return;  // the first frame waits for the fields' sample values
        if (soon) run();
        else timer = setTimeout(run, CHANGE_REST_MS);
      },
    };
  })();

  // -- undo / redo ----------------------------------------------------------------------------
  root.querySelector("[data-undo]").addEventListener("click", () => doc.undo());
  root.querySelector("[data-redo]").addEventListener("click", () => doc.redo());
  document.addEventListener("keydown", (event) => {
    if (!(event.ctrlKey || event.metaKey) || event.key.toLowerCase() !== "z" || event.altKey) return;
    const target = event.target;
    if (doc.contains(target)) return;  // CodeMirror's own keymap
    if (target.matches?.("input[type=text], input:not([type]), textarea")) return;  // the field's own undo
    event.preventDefault();
    if (event.shiftKey) doc.redo(); else doc.undo();
  });

  versionPanels(root, { api, doc, state, sample, showProblems, say });

  api.schema().then((schema) => doc.useSchema(schema)).catch(() => { /* completion without the schema: none */ });
  refresh();
}
