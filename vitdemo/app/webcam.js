// Gradio's webcam button fails silently when the browser has no camera, refuses it, or the page is not
// served over https: say so next to the input (#webcam-error), in words and with what to do instead.
(() => {
  const say = (text) => {
    const box = document.querySelector("#webcam-error .webcam-msg");
    if (box) box.textContent = text;
  };
  const explain = (e) => ({
    NotAllowedError: "The browser refused the camera: allow it in the address bar, or upload a picture instead.",
    NotFoundError: "No camera was found on this device: upload or paste a picture instead.",
    NotReadableError: "The camera is in use by another program: close it, or upload a picture instead."}[e && e.name]
    || `The camera could not start (${(e && e.name) || "unknown error"}): upload or paste a picture instead.`);
  const media = navigator.mediaDevices;
  if (!media || !media.getUserMedia) {
    document.addEventListener("click", (event) => {
      if (event.target.closest && event.target.closest("#input-image button[aria-label*='ebcam' i]"))
        say("This page cannot use a camera here (it needs https or localhost): upload or paste a picture instead.");
    }, true);
    return;
  }
  const original = media.getUserMedia.bind(media);
  media.getUserMedia = async (constraints) => {
    try { const stream = await original(constraints); say(""); return stream; }
    catch (e) { say(explain(e)); throw e; }
  };
})();
