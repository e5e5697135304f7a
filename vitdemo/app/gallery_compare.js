// The patch-size comparison (#compare-gallery; after gallery.js): props.value = a list of bundles (one per
// patch size) of the same image and model, each drawn as its patch grid above its map in the explorer's view.
let bundles = [];  // the decoded bundles
let ticket = null;

async function load(value) {
  const mine = (ticket = value);
  const decoded = [];
  for (const payload of value || []) decoded.push(await V.decode(payload));
  if (ticket !== mine) return;
  bundles = decoded;
  repaint();
}

function paint(view) {
  box.innerHTML = "";
  if (!bundles.length) { note.textContent = V.tr("explorer.compare.empty"); return; }
  const schema = bundles[0].payload.schema;
  note.textContent = V.tr("explorer.compare.note", { sizes: bundles.map((d) => d.payload.patch).join(", "),
    method: V.tr(V.core.labelKey(schema, view.method)), layer: view.layer });
  // With keep-aspect each patch size makes its own grid (12×15, 6×7, 3×3 of one picture): every picture is
  // framed in the tallest one's shape, so the panels are the same size and line up.
  const aspect = Math.max(...bundles.map((d) => d.payload.size[1] / d.payload.size[0]));
  for (const d of bundles) {
    const [rows, cols] = d.payload.grid, [top1, p] = d.payload.top[0], label = V.className(d.payload, top1);
    const figure = card(V.tr("explorer.compare.card", { patch: d.payload.patch, rows, cols, count: rows * cols, label,
      percent: `${(p * 100).toFixed(0)}%` }));
    const shown = { ...view, patch: null, layer: Math.min(view.layer, d.payload.depth) };
    V.paintGrid(framed(figure, aspect), d, { ...shown, indices: false, order: false });
    if (!V.paintMap(framed(figure, aspect), d, shown, luts)) { missing(d, shown); return; }
  }
  element.dataset.painted = String(performance.now());
}

// A canvas in a box of the given aspect (height / width), centred: the painter sizes it to the box's width.
function framed(figure, aspect) {
  const frame = document.createElement("div");
  frame.className = "vg-frame";
  frame.style.aspectRatio = `1 / ${aspect}`;
  figure.insertBefore(frame, figure.querySelector("figcaption"));
  return frame.appendChild(document.createElement("canvas"));
}
