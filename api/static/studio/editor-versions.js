// The editor's outputs: "Save as new version" (the text exactly as shown, with a note; the server
// warns when someone saved meanwhile), the links comparing two versions, and "Render sample",
// the whole video for the sample row, followed until it is ready and played on the page.
import { Problems } from "./editor-api.js";

const SAMPLE_POLL_MS = 1000;

export function versionPanels(root, { api, doc, state, sample, showProblems, say }) {
  const saveForm = root.querySelector("[data-save-form]");
  const saveStatus = root.querySelector("[data-save-status]");
  saveForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = saveForm.querySelector("[data-save]");
    button.disabled = true;
    saveStatus.className = "";
    saveStatus.textContent = "Saving…";
    try {
      const note = saveForm.querySelector("[name=note]").value;
      const saved = await api.save(doc.text(), note, state.base ? Number(state.base) : null);
      const previous = state.base;
      state.base = String(saved.version);
      const badge = root.querySelector("[data-base-badge]");
      if (badge) badge.textContent = `saved as v${saved.version}`;
      saveStatus.replaceChildren();
      const text = document.createElement("span");
      text.textContent = `Saved as version ${saved.version}. `;
      saveStatus.append(text);
      if (saved.url) {
        const link = document.createElement("a");
        link.href = saved.url;
        link.textContent = "See the versions";
        saveStatus.append(link);
      }
      if (saved.warning) {
        const warning = document.createElement("p");
        warning.className = "notice";
        warning.textContent = saved.warning;
        saveStatus.append(warning);
      }
      saveStatus.dataset.version = String(saved.version);
      saveForm.querySelector("[name=note]").value = "";
      addVersion(saved.version, previous);
      say(`Saved as version ${saved.version}`);
    } catch (error) {
      saveStatus.className = "error";
      saveStatus.textContent = `Not saved: ${error.message}`;
      if (error instanceof Problems) showProblems(error.problems);
    } finally {
      button.disabled = false;
    }
  });

  const diffLink = () => root.querySelector("[data-diff-link]");
  function updateDiff() {
    const a = root.querySelector("[data-diff=a]").value;
    const b = root.querySelector("[data-diff=b]").value;
    diffLink().href = api.diffUrl(a, b);
    diffLink().textContent = `Show the changes from v${a} to v${b}`;
  }
  function addVersion(number, previous) {
    let form = root.querySelector("[data-diff-form]");
    if (!form) {
      if (!previous || Number(previous) === Number(number)) return;
      form = document.createElement("form");
      form.className = "pair";
      form.dataset.diffForm = "";
      for (const [side, label] of [["a", "From"], ["b", "To"]]) {
        const cell = document.createElement("div");
        const caption = document.createElement("label");
        caption.htmlFor = `diff-${side}`;
        caption.textContent = label;
        const select = document.createElement("select");
        select.id = `diff-${side}`;
        select.dataset.diff = side;
        cell.append(caption, select);
        form.append(cell);
      }
      const link = document.createElement("a");
      link.dataset.diffLink = "";
      const paragraph = document.createElement("p");
      paragraph.append(link);
      const none = root.querySelector("[data-diff-none]");
      none.replaceWith(form, paragraph);
      form.querySelector("[data-diff=a]").append(new Option(`v${previous}`, String(previous)));
      form.querySelector("[data-diff=b]").append(new Option(`v${previous}`, String(previous)));
      form.addEventListener("change", updateDiff);
    }
    for (const side of ["a", "b"]) {
      const select = form.querySelector(`[data-diff=${side}]`);
      if (![...select.options].some((o) => o.value === String(number))) select.prepend(new Option(`v${number}`, String(number)));
    }
    form.querySelector("[data-diff=b]").value = String(number);
    if (previous) form.querySelector("[data-diff=a]").value = String(previous);
    updateDiff();
  }
  root.querySelector("[data-diff-form]")?.addEventListener("change", updateDiff);

  const sampleButton = root.querySelector("[data-render-sample]");
  const sampleStatus = root.querySelector("[data-sample-status]");
  const video = root.querySelector("[data-sample-video]");
  sampleButton.addEventListener("click", async () => {
    sampleButton.disabled = true;
    sampleStatus.textContent = "Rendering the sample video…";
    try {
      const started = await api.sample(doc.text(), sample.values());
      let status = { status: "rendering" };
      while (status.status === "rendering") {
        await new Promise((resolve) => setTimeout(resolve, SAMPLE_POLL_MS));
        const response = await api.get(started.status_url);
        status = await response.json();
        if (status.status === "rendering") sampleStatus.textContent = `Rendering the sample video… ${status.elapsed ?? ""} s`;
      }
      if (status.status !== "ready") throw new Error(status.error || status.problems?.[0]?.message || "the sample failed");
      video.src = status.video_url || started.video_url;
      video.hidden = false;
      sampleStatus.textContent = "The sample video is ready.";
    } catch (error) {
      sampleStatus.textContent = `No sample: ${error.message}`;
    } finally {
      sampleButton.disabled = false;
    }
  });

}
