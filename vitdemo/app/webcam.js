// Gradio's webcam button fails silently when the browser has no camera, refuses it, or the page is not
// served over https: say so next to the input (#webcam-error), in words and with what to do instead.
(() => {
  const say = (text) => {
    const box = document.querySelector("#webcam-error .webcam-msg");
    if (box) box.textContent = text;
  };
  const tr = (key, values) => window.vitdemo.tr(key, values);  // explorer_strings.js
  const explain = (e) => {
    const known = { NotAllowedError: "refused", NotFoundError: "none", NotReadableError: "busy" }[e && e.name];
    return known ? tr(`explorer.webcam.${known}`)
      : tr("explorer.webcam.failed", { error: (e && e.name) || tr("explorer.webcam.unknown") });
  };
  const media = navigator.mediaDevices;
  if (!media || !media.getUserMedia) {
    document.addEventListener("click", (event) => {
      if (event.target.closest && event.target.closest("#input-image button[aria-label*='ebcam' i]"))
        say(tr("explorer.webcam.insecure"));
    }, true);
    return;
  }
  const original = media.getUserMedia.bind(media);
  media.getUserMedia = async (constraints) => {
    try { const stream = await original(constraints); say(""); return stream; }
    catch (e) { say(explain(e)); throw e; }
  };
})();
