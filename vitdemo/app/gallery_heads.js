// The per-head gallery (#heads-gallery; after gallery.js): one small map per head of the explorer's analysis
// at its layer; for a method that chains the layers, which exists for fused heads only, the fusions.
function load() {}  // it draws the explorer's own bundle (V.decoded)

function paint(view) {
  const d = V.decoded;
  box.innerHTML = "";
  if (!d) { note.textContent = V.tr("explorer.gallery.empty"); return; }
  const schema = d.payload.schema, fused = V.core.chainsLayers(schema, view.method);
  const heads = fused ? schema.fusions : Array.from({ length: d.payload.heads }, (_, h) => h);
  note.textContent = fused ? V.tr("explorer.gallery.fused", { method: V.tr(V.core.labelKey(schema, view.method)) })
    : V.tr("explorer.gallery.heads", { layer: view.layer, heads: d.payload.heads });
  const thumbs = V.small(d);
  for (const head of heads) {
    const figure = card(V.tr("explorer.gallery.card", { layer: view.layer,
      head: typeof head === "number" ? V.tr("explorer.head_n", { head: V.core.counted(head) })
        : V.tr(`explorer.fusion_short.${head}`) }));
    const shown = { ...view, head, patch: null, grid: false };
    if (!V.paintMap(canvasIn(figure), thumbs, shown, luts)) { missing(d, shown); return; }
  }
  element.dataset.painted = String(performance.now());
}
