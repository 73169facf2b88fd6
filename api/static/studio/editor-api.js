// The scene editor's calls to its JSON API (/studio/scenes/NAME/editor/...): same-origin, the
// CSRF token on every POST. A 422 comes back as {problems}; anything else not OK is an Error
// whose message is the server's own text, so the page can show it as is.
const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

export class Problems extends Error {
  constructor(problems) {
    super(problems.map((p) => p.message).join("; "));
    this.problems = problems;
  }
}

export class Busy extends Error {}

async function failure(response) {
  if (response.redirected || response.status === 401) {  // signed out meanwhile
    window.location.reload();
    return new Error("signed out");
  }
  const text = await response.text();
  if (response.status === 422 || response.status === 413) {
    try {
      const body = JSON.parse(text);
      if (Array.isArray(body.problems)) return new Problems(body.problems);
      if (body.detail) return new Error(typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail));
    } catch { /* not JSON: the text itself */ }
  }
  if (response.status === 429 || response.status === 409) return new Busy(text || "the preview is busy");
  let message = text;
  try { message = JSON.parse(text).detail || text; } catch { /* plain text */ }
  return new Error(`${response.status}: ${String(message).slice(0, 300) || response.statusText}`);
}

export function editorApi(base) {
  async function call(method, path, body, { signal, as = "json" } = {}) {
    const headers = { Accept: as === "json" ? "application/json" : "*/*" };
    if (method !== "GET") {
      headers["Content-Type"] = "application/json";
      headers["X-CSRF-Token"] = csrf;
    }
    const response = await fetch(`${base}/${path}`, {
      method, headers, signal, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok || response.redirected) throw await failure(response);
    return as === "json" ? response.json() : response.blob();
  }
  return {
    parse: (yaml, signal) => call("POST", "parse", { yaml }, { signal }),
    apply: (yaml, edits) => call("POST", "apply", { yaml, edits }),
    preview: (yaml, row, at, signal) => call("POST", "preview", { yaml, row, at }, { signal, as: "blob" }),
    save: (yaml, note, base) => call("POST", "save", { yaml, note, base }),
    sample: (yaml, row) => call("POST", "sample", { yaml, row }),
    schema: () => call("GET", "schema.json"),
    rows: () => call("GET", "rows"),
    get: (url) => fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }),
    diffUrl: (a, b) => `${base}/versions/${encodeURIComponent(a)}/diff/${encodeURIComponent(b)}`,
  };
}
