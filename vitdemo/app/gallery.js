// js_on_load shared by the galleries that follow the explorer's view (window.vitdemo.bus) and draw with its
// painter, so they show the method, layer, colormap and opacity the explorer shows, without a request.
// explorer.py `gallery` loads this, then the mode's own file, which defines paint(view) and load(value):
//   gallery_heads.js   (#heads-gallery):   one small map per head of the explorer's analysis at its layer;
//   gallery_compare.js (#compare-gallery): one bundle per patch size of the same image, grid above map;
//   gallery_models.js  (#models-compare):  a second model's analysis beside the explorer's own;
// then `start()`, all after `const V = window.vitdemo` (the painter). In scope (Gradio): element, props, server
// (the server functions it was given by name: explorer.py GALLERY_FUNCTIONS), watch.
const luts = V.lutsFrom(V.colormaps);
const box = element.querySelector(".vg");
const note = element.querySelector(".vg-note");

function card(title) {
  const figure = document.createElement("figure");
  figure.innerHTML = `<figcaption></figcaption>`;
  figure.querySelector("figcaption").textContent = title;
  box.appendChild(figure);
  return figure;
}
function canvasIn(figure) {
  const canvas = document.createElement("canvas");
  figure.insertBefore(canvas, figure.querySelector("figcaption"));
  return canvas;
}

// A class method's maps for a class not in a bundle yet: one server call, then repaint.
async function missing(d, view) {
  const target = view.target || d.payload.top[0][0];
  try {
    d.classes[view.method][target] = await V.stack(await server.maps(d.payload.key, view.method, target, 0), 65535);
  } catch (error) {
    note.textContent = V.tr("explorer.gallery.failed", { error: error.message || error });
    return;
  }
  repaint();
}

function repaint() {
  if (V.view) paint(V.view);
}

// Paint only while visible (a hidden tab costs nothing), at most once a frame, after the explorer's paint.
let scheduled = false;
function schedule() {
  if (scheduled || !element.offsetParent) return;
  scheduled = true;
  requestAnimationFrame(() => { scheduled = false; repaint(); });
}

function start() {
  V.bus.addEventListener("view", schedule);
  new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) schedule(); }).observe(element);
  watch("value", () => load(props.value));
  load(props.value);
}
