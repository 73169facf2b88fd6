// The side panels: the list of layers, the form of the selected layer (each change is one edit of
// the document, sent when the field is left or, for text, when typing rests), and the sample row
// the previews use: a field per scene field, or a row of a recent campaign.
const TYPING_REST_MS = 500;
const NUMBERS = new Set(["start", "end", "x", "y", "w", "h"]);
// A value of each field type for a field without a default (as pvideo.scene.samples).
const SAMPLES = { str: "Sample", int: "1", float: "1.0", bool: "true", date: "2026-01-01", url: "https://example.com/sample" };

export const layerName = (layer) => layer.id || `${layer.type} ${layer.index + 1}`;

// The value a form field gives for the document: numbers stay numbers, empty means "remove".
function fieldValue(input, layer) {
  const raw = input.value.trim();
  const name = input.name;
  if (NUMBERS.has(name)) return raw === "" ? null : Number(raw);
  if (name === "size") return /^\d+$/.test(raw) ? Number(raw) : raw || null;
  if (name === "animation") {
    const current = layer.animation && typeof layer.animation === "object" ? layer.animation : {};
    if (!raw) return current.out ? { out: current.out } : null;
    const enter = current.in && current.in.effect === raw ? current.in : { effect: raw, duration: 0.5 };
    return { ...current, in: enter };
  }
  if (input.tagName === "TEXTAREA" || name === "text" || name === "label") return input.value;
  return raw || null;
}

function shown(layer, name) {
  if (name === "animation") {
    const animation = layer.animation;
    if (!animation) return "";
    if (typeof animation === "string") return animation;
    return animation.in?.effect || "";
  }
  const value = layer[name];
  if (value === null || value === undefined) return "";
  if (NUMBERS.has(name) && typeof value === "number") return String(Math.round(value * 100) / 100);
  return String(value);
}

export function layerPanels(root, { onSelect, onSet, onAdd, onRemove }) {
  const list = root.querySelector("[data-layer-list]");
  const form = root.querySelector("[data-layer-form]");
  const empty = root.querySelector("[data-no-layer]");
  let current = null;
  let typing = null;

  const send = (input) => {
    if (!current || !input.name || input.dataset.pick) return;
    if (input.validity && !input.validity.valid) return;
    const value = fieldValue(input, current);
    if (shown(current, input.name) === (input.value || "").trim() && input.name !== "animation") return;
    onSet(current.index, { [input.name]: value });
  };
  form.addEventListener("change", (event) => {
    clearTimeout(typing);
    const input = event.target;
    if (input.dataset.pick) {  // a colour picker fills its text field, which is what is sent
      const text = form.querySelector(`[name="${input.dataset.pick}"]`);
      text.value = input.value;
      send(text);
      return;
    }
    send(input);
  });
  form.addEventListener("input", (event) => {
    const input = event.target;
    if (input.tagName !== "TEXTAREA" && input.type !== "text") return;
    clearTimeout(typing);
    typing = setTimeout(() => send(input), TYPING_REST_MS);
  });
  form.addEventListener("submit", (event) => event.preventDefault());
  root.querySelector("[data-remove]").addEventListener("click", () => current && onRemove(current.index));
  for (const button of root.querySelectorAll("[data-add]")) button.addEventListener("click", () => onAdd(button.dataset.add));

  function fill(layer) {
    current = layer;
    form.hidden = !layer;
    empty.hidden = Boolean(layer);
    if (!layer) return;
    for (const block of form.querySelectorAll("[data-for]")) block.hidden = !block.dataset.for.split(" ").includes(layer.type);
    for (const input of form.querySelectorAll("input[name], textarea[name], select[name]")) {
      if (input === document.activeElement && input.value.trim() !== shown(layer, input.name)) continue;  // being typed in
      input.value = shown(layer, input.name);
    }
    for (const picker of form.querySelectorAll("[data-pick]")) {
      const value = shown(layer, picker.dataset.pick);
      picker.value = /^#[0-9a-f]{6}/i.test(value) ? value.slice(0, 7) : "#000000";
    }
    form.setAttribute("aria-label", `Layer ${layerName(layer)}`);
  }

  return {
    render(layers, selected) {
      const focused = document.activeElement?.dataset?.layer;
      list.replaceChildren();
      for (const layer of layers) {
        const item = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.className = "layer-pick";
        button.dataset.layer = String(layer.index);
        button.setAttribute("aria-pressed", String(layer.index === selected));
        button.textContent = `${layerName(layer)} · ${layer.type}`;
        button.addEventListener("click", () => onSelect(layer.index, { focusForm: true }));
        item.append(button);
        list.append(item);
      }
      if (focused !== undefined) list.querySelector(`[data-layer="${focused}"]`)?.focus({ preventScroll: true });
      fill(layers.find((layer) => layer.index === selected) || null);
    },
    focusForm() { form.querySelector("[data-for]:not([hidden]) input, [data-for]:not([hidden]) textarea, input")?.focus(); },
  };
}

export function sampleRow(root, { onChange, rows }) {
  const form = root.querySelector("[data-sample-form]");
  const picker = root.querySelector("[data-pick-row]");
  let fields = [];
  let recent = [];
  let timer = 0;
  const typed = {};  // values given so far, kept while a field is gone (a text that does not load)

  const values = () => {
    const row = {};
    for (const input of form.querySelectorAll("input[name]")) row[input.name] = input.value;
    return row;
  };
  form.addEventListener("input", (event) => {
    if (event.target.name) typed[event.target.name] = event.target.value;
    clearTimeout(timer);
    timer = setTimeout(() => onChange(values()), 150);
  });
  form.addEventListener("submit", (event) => event.preventDefault());
  picker.addEventListener("change", () => {
    const chosen = recent[Number(picker.value)];
    for (const input of form.querySelectorAll("input[name]")) {
      const value = chosen ? chosen.values[input.name] : input.dataset.sample;
      input.value = value === undefined || value === null ? "" : String(value);
      typed[input.name] = input.value;
    }
    onChange(values());
  });
  rows().then((found) => {
    const list = Array.isArray(found) ? found : found?.rows;
    recent = Array.isArray(list) ? list.slice(0, 50) : [];
    recent.forEach((row, i) => {
      const option = document.createElement("option");
      option.value = String(i);
      option.textContent = `${row.campaign_name || row.campaign}, row ${row.row}`;
      picker.append(option);
    });
  }).catch(() => { /* no campaign rows to offer: the sample values stay */ });

  return {
    values,
    /** Build one input per field; values typed so far are kept for fields that remain. */
    setFields(next) {
      const same = next.length === fields.length && next.every((f, i) => f.name === fields[i].name && f.type === fields[i].type);
      if (same) return false;
      const kept = { ...typed, ...values() };
      fields = next;
      form.replaceChildren();
      for (const field of fields) {
        const id = `row-${field.name}`;
        const label = document.createElement("label");
        label.htmlFor = id;
        label.textContent = field.name;
        const hint = document.createElement("span");
        hint.className = "hint";
        hint.textContent = `${field.type}${field.required ? ", required" : ""}`;
        label.append(" ", hint);
        const input = document.createElement("input");
        input.type = "text";
        input.id = id;
        input.name = field.name;
        input.autocomplete = "off";
        const sample = field.default ?? SAMPLES[field.type] ?? "";
        input.dataset.sample = String(sample);
        input.value = field.name in kept ? kept[field.name] : String(sample);
        form.append(label, input);
      }
      return true;
    },
  };
}
