// The wizard's preview step: moving the time slider (or typing a second) shows that frame
// without reloading the page, one request at a time and only once the slider rests briefly.
const image = document.getElementById("frame");
const form = document.querySelector("form[data-frame-form]");
const status = document.querySelector("[data-frame-status]");
const sampleTime = document.querySelector("[data-sample-time]");

if (image && form) {
  const inputs = form.querySelectorAll("input[data-time]");
  const base = image.dataset.frameBase;
  let timer = 0;

  const show = (seconds) => {
    const url = `${base}&t=${encodeURIComponent(seconds)}`;
    image.src = url;
    image.alt = `Frame at ${seconds} s`;
    if (status) status.textContent = `Loading the frame at ${seconds} s…`;
    if (sampleTime) sampleTime.value = seconds;
    image.onload = () => { if (status) status.textContent = `Frame at ${seconds} s`; };
    image.onerror = async () => {
      let reason = "";
      try {
        const answer = await fetch(url, { credentials: "same-origin" });
        reason = (await answer.text()).slice(0, 500);
      } catch { /* offline: the generic message below */ }
      if (status) status.textContent = `No frame at ${seconds} s: ${reason || "the preview failed"}`;
    };
  };

  for (const input of inputs) {
    input.addEventListener("input", () => {
      for (const other of inputs) if (other !== input) other.value = input.value;
      clearTimeout(timer);
      timer = setTimeout(() => show(input.value), 250);
    });
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    show(inputs[inputs.length - 1].value);
  });
}
