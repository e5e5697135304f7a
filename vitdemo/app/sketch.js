// The sketchpad (#draw), live (see draw.py): the brush is ready as soon as the pad is, and each finished stroke
// becomes the image input at once, with no request of its own.
//
// Gradio's pad falls back to its "image" tool when it is ready and after every clear (its value is then
// empty), so the pen had to be picked first: here the brush is clicked whenever that happens (the pad has no
// image tool button, since it takes no upload or crop, so its first tool button is the brush). When its
// editor reports a change (a stroke ended, an erase, undo, redo, clear), the drawing is flattened on white
// paper and, unless it is blank or the same as the last one sent, handed to the hidden #draw-send button,
// whose event (js only) sets it as the image input's value; the image's change analyses it.
(() => {
  const PAPER_ABOVE = 250;  // a pixel this light (every channel) is paper, not ink
  const SIDE = 240;  // the drawing's longer side as sent: 2.5× the bundled model's input, and quick to read back
  let editorHooked = null, latest = null, sent = null, queued = false;

  const pad = () => document.querySelector("#draw");
  const editorOf = (root) => {  // Gradio keeps its last image editor on window.editor; the pad's, if it is
    const e = window.editor;
    return root && e && e.target_element && root.contains(e.target_element) ? e : null;
  };

  const blank = (g, w, h) => {
    const px = g.getImageData(0, 0, w, h).data;
    for (let i = 0; i < px.length; i += 4)
      if (px[i] < PAPER_ABOVE || px[i + 1] < PAPER_ABOVE || px[i + 2] < PAPER_ABOVE) return false;
    return true;
  };

  const drawing = (e) => {  // the pad's layers over white paper, as a PNG data URL (null when blank)
    const Rectangle = e.image_container.getLocalBounds().rectangle.constructor;  // PixiJS's, which extract needs
    const ink = e.app.renderer.extract.canvas({ target: e.image_container, resolution: SIDE / Math.max(e.width, e.height),
                                                frame: new Rectangle(0, 0, e.width, e.height) });
    const w = ink.width, h = ink.height, paper = document.createElement("canvas");
    paper.width = w; paper.height = h;
    const g = paper.getContext("2d", { willReadFrequently: true });
    g.fillStyle = "#fff"; g.fillRect(0, 0, w, h); g.drawImage(ink, 0, 0);
    return blank(g, w, h) ? null : paper.toDataURL("image/png");
  };

  const send = () => {
    const e = editorOf(pad());
    if (!e) return;
    const url = drawing(e);
    if (!url || url === sent) return;
    latest = sent = url;
    document.querySelector("#draw-send")?.click();
  };

  const arm = () => {  // hook the pad's editor once, and pick the brush whenever the pad fell back to "image"
    queued = false;
    const root = pad(), e = editorOf(root);
    if (!e) return;
    if (editorHooked !== e) {
      editorHooked = e;
      e.on("change", () => requestAnimationFrame(send));  // after the stroke is committed to its layer
    }
    if (e.current_tool === "image") {
      const brush = [...root.querySelectorAll("button")].find((b) => !b.classList.contains("icon-button"));
      if (brush) brush.click();
    }
  };

  new MutationObserver(() => { if (!queued) { queued = true; requestAnimationFrame(arm); } })
    .observe(document.documentElement, { subtree: true, childList: true, attributes: true,
                                         attributeFilter: ["class"] });

  window.vitdemo = window.vitdemo || {};
  window.vitdemo.sketch = {
    // The image input's value for the hidden button's event: the last drawing, named as the pad's (draw.py).
    take: (name) => latest && { path: null, url: latest, orig_name: name, mime_type: "image/png",
                                is_stream: false, meta: { _type: "gradio.FileData" } },
  };
})();
