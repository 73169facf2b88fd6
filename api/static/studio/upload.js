// The wizard's upload step: drag and drop onto the drop zone, and a progress bar while the file
// goes up (XMLHttpRequest upload progress). Without this module the form posts as a plain form.
const csrf = document.querySelector('meta[name="csrf-token"]')?.content;

function showError(form, message) {
  let box = document.getElementById("step-error");
  if (!box) {
    box = document.createElement("p");
    box.id = "step-error";
    box.className = "error";
    box.setAttribute("role", "alert");
    form.before(box);
  }
  box.textContent = message;
}

function send(form) {
  const input = form.querySelector('input[type="file"]');
  const button = form.querySelector('button[type="submit"]');
  const progress = form.querySelector("[data-progress]");
  const bar = progress?.querySelector("progress");
  const text = progress?.querySelector("[data-progress-text]");
  const request = new XMLHttpRequest();
  request.open("POST", form.action);
  if (csrf) request.setRequestHeader("X-CSRF-Token", csrf);
  if (progress) progress.hidden = false;
  request.upload.addEventListener("progress", (event) => {
    if (!event.lengthComputable || !bar) return;
    const percent = Math.round((event.loaded / event.total) * 100);
    bar.value = percent;
    if (text) text.textContent = `${percent}% sent`;
  });
  request.upload.addEventListener("load", () => {
    if (text) text.textContent = "Sent; reading the file…";
  });
  request.addEventListener("load", () => {
    if (request.status < 400 && request.responseURL && request.responseURL !== form.action) {
      window.location.assign(request.responseURL); // the redirect to the next step was followed
      return;
    }
    const page = new DOMParser().parseFromString(request.responseText, "text/html");
    const message = page.querySelector(".error")?.textContent
      || page.querySelector("[data-detail]")?.textContent
      || safeDetail(request.responseText)
      || `The upload failed (HTTP ${request.status}).`;
    showError(form, message.trim());
    if (progress) progress.hidden = true;
    if (button) button.disabled = false;
    input?.focus();
  });
  request.addEventListener("error", () => {
    showError(form, "The upload did not reach the server. Check the connection and try again.");
    if (progress) progress.hidden = true;
    if (button) button.disabled = false;
  });
  request.send(new FormData(form));
}

function safeDetail(body) {
  try {
    const detail = JSON.parse(body).detail;
    return typeof detail === "string" ? detail : "";
  } catch {
    return "";
  }
}

for (const form of document.querySelectorAll("form[data-upload]")) {
  const zone = form.querySelector("[data-dropzone]");
  const input = form.querySelector('input[type="file"]');
  if (zone && input) {
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("over");
      if (event.dataTransfer?.files.length) {
        input.files = event.dataTransfer.files;
        input.dispatchEvent(new Event("change", { bubbles: true }));
      }
    });
  }
  form.addEventListener("submit", (event) => {
    if (typeof XMLHttpRequest === "undefined" || !window.FormData) return;
    event.preventDefault();
    send(form);
  });
}
