// A campaign page followed live: counts, rate, ETA, the progress bar and new failed rows.
// Server-Sent Events from data-live; if they fail, polling data-poll every 2 s. Text only (textContent).
const root = document.querySelector("[data-live]");
const POLL_MS = 2000;

function show(update) {
  for (const [status, n] of Object.entries(update.counts)) {
    const cell = root.querySelector(`[data-count="${status}"]`);
    if (cell && cell.textContent !== String(n)) cell.textContent = String(n);
  }
  root.querySelector("[data-live-rate]").textContent = String(update.rate_per_minute);
  root.querySelector("[data-live-eta]").textContent = update.eta;
  const bar = root.querySelector("[data-live-bar]");
  bar.value = update.percent;
  bar.setAttribute("aria-label", `Campaign progress: ${update.percent}% finished`);
  const summary = root.querySelector("[data-live-summary]");
  const text = `${update.finished} of ${update.total} rows finished (${update.percent}%)` +
    (update.complete ? "; nothing left to render." : ".");
  if (summary.textContent !== text) summary.textContent = text;  // the live region speaks only on change
  addFailures(update.failures);
  if (update.complete) finished();
}

// Once nothing is left to render: the status badge says so and the personal links table (statuses,
// links of rows that were still queued) is replaced by the server's current rendering of it.
async function finished() {
  const badge = document.querySelector("[data-live-status]");
  if (badge && badge.textContent === "active") {
    badge.textContent = "complete";
    badge.className = "badge ok";
  }
  const response = await fetch(window.location.href, { credentials: "same-origin" });
  if (!response.ok || response.redirected) return;
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");  // parsed, never run
  for (const section of document.querySelectorAll("[data-live-refresh]")) {
    const replacement = fresh.getElementById(section.id);
    if (replacement) section.replaceChildren(...replacement.childNodes);
  }
}

function addFailures(failures) {
  if (!failures.length) return;
  const body = document.querySelector("[data-live-failures]");
  for (const failure of failures) {
    const row = document.createElement("tr");
    for (const [value, kind] of [[failure.row, "num"], [failure.customer_id, ""], [failure.error, "reason"]]) {
      const cell = document.createElement("td");
      if (kind) cell.className = kind;
      cell.textContent = String(value);
      row.append(cell);
    }
    body.append(row);
  }
  document.querySelector("[data-live-no-failures]")?.setAttribute("hidden", "");
}

function poll(cursor) {
  const url = `${root.dataset.poll}?after=${encodeURIComponent(cursor)}`;
  fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then((response) => {
      if (response.redirected) {  // signed out: the page itself goes to the sign-in
        window.location.reload();
        return null;
      }
      return response.ok ? response.json() : Promise.reject(new Error(String(response.status)));
    })
    .then((update) => {
      if (!update) return;
      show(update);
      if (!update.complete) setTimeout(poll, POLL_MS, update.cursor || cursor);
    })
    .catch(() => setTimeout(poll, POLL_MS * 2, cursor));
}

function follow() {
  let cursor = root.dataset.cursor || "";
  if (!("EventSource" in window)) {
    poll(cursor);
    return;
  }
  const source = new EventSource(`${root.dataset.live}?after=${encodeURIComponent(cursor)}`);
  let errors = 0;
  source.addEventListener("progress", (event) => {
    errors = 0;
    const update = JSON.parse(event.data);
    cursor = update.cursor || cursor;
    show(update);
    if (update.complete) source.close();  // else the browser would reconnect to a finished stream
  });
  source.addEventListener("error", () => {
    errors += 1;
    if (source.readyState === EventSource.CLOSED || errors >= 3) {
      source.close();
      poll(cursor);
    }
  });
}

if (root && root.dataset.complete !== "true") follow();
