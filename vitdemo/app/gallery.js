// js_on_load of the per-head gallery (#heads-gallery) and of the patch-size comparison (#compare-gallery).
// Both follow the explorer's view (window.vitdemo.bus) and draw with the explorer's painter, so they show
// the method, layer, colormap and opacity the explorer shows, without a request.
//   heads:   one small map per head of the explorer's analysis at its layer (for rollout and relevance,
//            which exist for fused heads only, the three fusions);
//   compare: props.value = a list of bundles (one per patch size) of the same image and model; each is
//            drawn as its patch grid above its map.
const V = window.vitdemo;
const luts = V.lutsFrom(V.colormaps);
// Which of the two this is, from the page (a prop would be lost when an event sets the value).
const kind = element.closest("#compare-gallery") ? "compare" : "heads";
const box = element.querySelector(".vg");
const note = element.querySelector(".vg-note");
let bundles = [];  // compare: the decoded bundles
let ticket = null;

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

async function missing(d, view) {
  // Relevance of a class not in a bundle yet: one server call, then repaint.
  const target = view.target || d.payload.top[0][0];
  try {
    d[view.method][target] = await V.stack(await server[view.method](d.payload.key, target), 65535);
  } catch (error) {
    note.textContent = `The server could not compute relevance: ${error.message || error}`;
    return;
  }
  paint();
}

function paintHeads(view, d) {
  box.innerHTML = "";
  if (!d) { note.textContent = "Upload an image to see every head."; return; }
  const fused = V.FUSED_ONLY.includes(view.method);
  const heads = fused ? V.FUSIONS : Array.from({ length: d.payload.heads }, (_, h) => h);
  note.textContent = fused ? `${{ rollout: "Rollout", relevance: "Relevance", legrad: "LeGrad" }[view.method]} combines every layer, so it exists for the fused heads only.`
    : `Layer ${view.layer}: where the class token looks in each of the ${d.payload.heads} heads.`;
  const thumbs = V.small(d);
  for (const head of heads) {
    const figure = card(typeof head === "number" ? `layer ${view.layer} · head ${head}` : `layer ${view.layer} · ${head}`);
    const shown = { ...view, head, patch: null, grid: false };
    if (!V.paintMap(canvasIn(figure), thumbs, shown, luts)) { missing(d, shown); return; }
  }
  element.dataset.painted = String(performance.now());
}

function paintCompare(view) {
  box.innerHTML = "";
  if (!bundles.length) { note.textContent = "Pick 2 or 3 patch sizes and press Compare."; return; }
  note.textContent = `Same image and model at ${bundles.map((d) => d.payload.patch).join(", ")} px, ` +
    `${view.method}, layer ${view.layer}.`;
  for (const d of bundles) {
    const [rows, cols] = d.payload.grid, [label, p] = d.payload.top[0];
    const figure = card(`patch ${d.payload.patch}: ${rows}×${cols} = ${rows * cols} patches · ${label} ${(p * 100).toFixed(0)}%`);
    const shown = { ...view, patch: null, layer: Math.min(view.layer, d.payload.depth) };
    V.paintGrid(canvasIn(figure), d, { ...shown, indices: false, order: false });
    if (!V.paintMap(canvasIn(figure), d, shown, luts)) { missing(d, shown); return; }
  }
  element.dataset.painted = String(performance.now());
}

function paint() {
  const view = V.view;
  if (!view) return;
  if (kind === "heads") paintHeads(view, V.decoded);
  else paintCompare(view);
}

async function load(value) {
  if (kind !== "compare") return;
  const mine = (ticket = value);
  const decoded = [];
  for (const payload of value || []) decoded.push(await V.decode(payload));
  if (ticket !== mine) return;
  bundles = decoded;
  paint();
}

// Paint only while visible (a hidden tab costs nothing), at most once a frame, after the explorer's paint.
let scheduled = false;
function schedule() {
  if (scheduled || !element.offsetParent) return;
  scheduled = true;
  requestAnimationFrame(() => { scheduled = false; paint(); });
}
V.bus.addEventListener("view", schedule);
new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) schedule(); }).observe(element);
watch("value", () => load(props.value));
load(props.value);
