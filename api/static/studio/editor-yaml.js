// The YAML panel: CodeMirror 6 (vendored) holding the one document every other panel edits.
// Edits made elsewhere (a drag, the layer form) arrive as the server's new text and replace only
// the part that changed, as one undo step; CodeMirror's history is the editor's undo/redo.
// Completion offers the keys and values the scene's JSON Schema allows where the cursor is.
import {
  EditorState, EditorView, Transaction, autocompletion, basicSetup, isolateHistory, keymap, lintGutter,
  redo, redoDepth, setDiagnostics, undo, undoDepth, yaml,
} from "/static/vendor/codemirror/codemirror.bundle.js";

const KEY = /^(\s*)(-\s+)?([A-Za-z_][\w-]*)\s*:(.*)$/;

function deref(schema, node) {
  let found = node;
  for (let i = 0; found && found.$ref && i < 20; i += 1) {
    found = found.$ref.replace(/^#\//, "").split("/").reduce((at, part) => at?.[part], schema);
  }
  return found || {};
}

function branches(schema, node) {
  const real = deref(schema, node);
  const alternatives = real.anyOf || real.oneOf || real.allOf;
  return alternatives ? alternatives.flatMap((branch) => branches(schema, branch)) : [real];
}

function at(schema, path) {
  let nodes = [schema];
  for (const step of path) {
    nodes = nodes.flatMap((node) => branches(schema, node)).flatMap((node) => {
      if (step === "[]") return node.items ? [node.items] : [];
      const property = node.properties?.[step];
      return property ? [property] : [];
    });
  }
  return nodes.flatMap((node) => branches(schema, node));
}

// The keys leading to the line ``number`` whose key starts at column ``indent`` (``item``: the line
// itself starts a list item, its dash at that column), outermost first, "[]" for a list item, read
// from the indentation of the lines above. A list may sit at its key's own indentation
// (``layers:`` then ``- type: text``), so after an item its key may be as far left as the dash.
function pathAbove(doc, number, indent, item) {
  const path = item === null ? [] : ["[]"];
  let limit = item === null ? indent : item;
  let inList = item !== null;
  for (let n = number - 1; n >= 1 && (limit > 0 || inList); n -= 1) {
    const text = doc.line(n).text;
    if (!text.trim() || text.trim().startsWith("#")) continue;
    const lead = text.length - text.trimStart().length;
    const match = text.match(KEY);
    const dash = /^\s*-\s+/.exec(text);
    const keyAt = dash ? dash[0].length : lead;
    const opens = match && !match[4].replace(/#.*/, "").trim();
    if (opens && (keyAt < limit || (inList && !dash && keyAt <= limit))) {
      path.unshift(match[3]);
      limit = keyAt;
      inList = false;
    } else if (dash && lead < limit) {
      path.unshift("[]");
      limit = lead;
      inList = true;
    }
  }
  return path;
}

function valuesOf(schema, node) {
  return branches(schema, node).flatMap((branch) => {
    if (branch.enum) return branch.enum;
    if (branch.const !== undefined) return [branch.const];
    if (branch.type === "boolean") return [true, false];
    return [];
  }).filter((value) => value !== null);
}

export function completionSource(schema) {
  return (context) => {
    const line = context.state.doc.lineAt(context.pos);
    const before = line.text.slice(0, context.pos - line.from);
    const value = before.match(/^(\s*)(-\s+)?([A-Za-z_][\w-]*):\s+["']?([\w#-]*)$/);
    if (value) {
      const indent = value[1].length + (value[2] || "").length;
      const path = pathAbove(context.state.doc, line.number, indent, value[2] ? value[1].length : null);
      const options = at(schema, path).flatMap((node) => {
        const property = node.properties?.[value[3]];
        return property ? valuesOf(schema, property) : [];
      });
      if (!options.length) return null;
      return {
        from: context.pos - value[4].length,
        options: [...new Set(options.map(String))].map((label) => ({ label, type: "enum" })),
      };
    }
    const key = before.match(/^(\s*)(-\s+)?([A-Za-z_][\w-]*)?$/);
    if (!key || (!key[3] && !context.explicit)) return null;
    const indent = key[1].length + (key[2] || "").length;
    const path = pathAbove(context.state.doc, line.number, indent, key[2] ? key[1].length : null);
    const seen = new Map();
    for (const node of at(schema, path)) {
      for (const [name, property] of Object.entries(node.properties || {})) {
        if (!seen.has(name)) seen.set(name, deref(schema, property).description || "");
      }
    }
    if (!seen.size) return null;
    return {
      from: context.pos - (key[3] || "").length,
      options: [...seen].map(([label, info]) => ({ label, type: "property", apply: `${label}: `, info: info || undefined })),
      validFor: /^[\w-]*$/,
    };
  };
}

// The smallest change turning ``old`` into ``text`` (both with \n line ends, as positions count).
function change(old, text) {
  let start = 0;
  const most = Math.min(old.length, text.length);
  while (start < most && old.charCodeAt(start) === text.charCodeAt(start)) start += 1;
  let end = 0;
  while (end < most - start && old.charCodeAt(old.length - 1 - end) === text.charCodeAt(text.length - 1 - end)) end += 1;
  return { from: start, to: old.length - end, insert: text.slice(start, text.length - end) };
}

export function yamlPanel(parent, text, { onChange, onHistory }) {
  const completions = { source: null };
  const state = EditorState.create({
    doc: text,
    extensions: [
      text.includes("\r\n") ? EditorState.lineSeparator.of("\r\n") : [],
      basicSetup,
      yaml(),
      lintGutter(),
      autocompletion({ override: [(context) => (completions.source ? completions.source(context) : null)] }),
      keymap.of([{ key: "Mod-Shift-z", run: redo, preventDefault: true }]),
      EditorView.contentAttributes.of({ "aria-label": "Scene YAML", tabindex: "0" }),  // axe: a focusable scroller content
      EditorView.updateListener.of((update) => {
        if (update.docChanged) onChange(update);
        if (update.docChanged || update.transactions.length) onHistory(undoDepth(update.state), redoDepth(update.state));
      }),
    ],
  });
  // CodeMirror styles itself at run time. In a document it adds <style> elements, which the strict
  // CSP refuses; in a shadow root it uses constructed style sheets (adoptedStyleSheets), which
  // style-src does not govern. So the editor lives in a shadow root, with the page's own rules
  // for it linked in from 'self'.
  const shadow = parent.attachShadow({ mode: "open" });
  const rules = document.createElement("link");
  rules.rel = "stylesheet";
  rules.href = "/static/studio/editor-yaml.css";
  const mount = document.createElement("div");
  shadow.append(rules, mount);
  const view = new EditorView({ state, parent: mount, root: shadow });
  rules.addEventListener("load", () => view.requestMeasure());  // line heights change with the font

  return {
    view,
    /** Whether ``node`` (as the document sees it: the shadow host) is the YAML panel. */
    contains: (node) => parent.contains(node),
    text: () => view.state.sliceDoc(),
    useSchema(schema) { completions.source = completionSource(schema); },
    /** Replace the document with ``next`` (the server's text after an edit): one undo step. */
    replace(next) {
      const lineBreak = view.state.lineBreak;
      const edit = change(view.state.doc.toString(), next.split(lineBreak).join("\n"));
      if (edit.from === edit.to && !edit.insert) return false;
      edit.insert = edit.insert.split("\n").join(lineBreak);
      view.dispatch({
        changes: edit,
        annotations: [isolateHistory.of("full"), Transaction.userEvent.of("input.editor")],
      });
      return true;
    },
    undo: () => undo(view),
    redo: () => redo(view),
    /** Problems from the server as inline diagnostics (line and column count from 1). */
    showProblems(problems) {
      const doc = view.state.doc;
      const diagnostics = problems.map((problem) => {
        if (!problem.line || problem.line > doc.lines) return { from: 0, to: Math.min(doc.length, 1), severity: "error", message: problem.message };
        const line = doc.line(problem.line);
        const from = Math.min(line.to, line.from + Math.max(0, (problem.column || 1) - 1));
        return { from, to: Math.max(from, line.to), severity: "error", message: problem.message };
      });
      view.dispatch(setDiagnostics(view.state, diagnostics));
    },
    /** Put the cursor at the start of ``line`` and scroll it into view. */
    goToLine(line, column = 1) {
      const doc = view.state.doc;
      const target = doc.line(Math.min(Math.max(1, line), doc.lines));
      const pos = Math.min(target.to, target.from + Math.max(0, column - 1));
      view.dispatch({ selection: { anchor: pos }, effects: EditorView.scrollIntoView(pos, { y: "center" }) });
      view.focus();
    },
  };
}
