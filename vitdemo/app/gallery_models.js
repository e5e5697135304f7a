// The side-by-side models (#models-compare; after gallery.js): props.value = {bundle, strings, error}, a second
// model's analysis of the explorer's image, drawn beside the explorer's own with its view mapped onto the
// second model (layer by relative depth, ...: mapView), the texts in the page's language (side_by_side.py).
let ticket = null;
let models = null;  // {d: the second model's decoded bundle, strings, error}
// Test contract: #models-compare gets data-painted (performance.now()) and data-views (JSON, one view per panel,
// counted as #explorer's data-view is: layer and head from 1, the patch the grid's [row, col] from 0).
const modelsRoot = element.closest("#models-compare") || element;
const tried = new Set();  // what was fetched for the second model already (never asked twice)
const fill = (template, values) => (template || "").replace(/\{(\w+)\}/g, (m, k) => (k in values ? values[k] : m));

// The explorer's view as the second model can show it, and one sentence for everything that had to change.
function mapView(view, main, other, s) {
  const p = main.payload, q = other.payload, title = q.title, notes = [];
  const shown = { ...view, grid: false };
  shown.layer = p.depth === q.depth ? view.layer
    : Math.max(1, Math.min(q.depth, Math.round(view.layer * q.depth / p.depth)));
  notes.push(p.depth === q.depth ? fill(s["models.js.layers_same"], { layer: view.layer, depth: p.depth })
    : fill(s["models.js.layers_relative"], { layer: view.layer, depth: p.depth, other: shown.layer, other_depth: q.depth }));
  if (typeof view.head === "number" && view.head >= q.heads) {
    shown.head = "mean";
    notes.push(fill(s["models.js.head_mean"], { title, heads: q.heads }));
  }
  if (view.method === V.lens.NAME && !q.classifier) {  // the logit lens reads the head: none, no lens
    shown.method = V.core.baseMethod(q.schema);
    notes.push(fill(s["models.js.no_classifier"], { title }));
  }
  if (V.core.needsClass(p.schema, view.method) && !view.patch) {
    const label = view.target || (p.top[0] || [])[0];
    if (!q.classifier) {
      Object.assign(shown, { method: V.core.baseMethod(q.schema), target: "" });
      notes.push(fill(s["models.js.no_classifier"], { title }));
    } else if (q.top.some(([l]) => l === label)) {
      shown.target = label;
    } else {
      shown.target = q.top[0][0];
      notes.push(fill(s["models.js.own_class"], { title, label: V.className(q, shown.target) }));
    }
  }
  if (view.query > 0 && q.prefix[view.query] !== p.prefix[view.query]) {
    shown.query = 0;
    const kindName = s[`models.js.kind.${p.prefix[view.query]}`] || p.prefix[view.query];
    notes.push(fill(s["models.js.no_token"], { title, query: view.query, kind: kindName }));
  }
  if (view.patch) {
    const [r, c] = view.patch, [rows, cols] = p.grid, [R, C] = q.grid;
    shown.patch = [Math.min(R - 1, Math.floor((r + 0.5) * R / rows)), Math.min(C - 1, Math.floor((c + 0.5) * C / cols))];
    if (R !== rows || C !== cols) {
      notes.push(fill(s["models.js.patch"], { title, rows: R, cols: C, row: V.core.counted(shown.patch[0]),
        col: V.core.counted(shown.patch[1]) }));
    }
  }
  return { shown, notes };
}

// What the second model's bundle lacks for a view (a class's relevance, a clicked row of a large grid).
async function fetchSecond(d, v, s) {
  const p = d.payload, cols = p.grid[1], ask = JSON.stringify([p.key, v.method, v.target, v.patch, v.layer]);
  if (tried.has(ask)) return;
  tried.add(ask);
  try {
    if (v.method === "features" && v.patch) {
      const [r, c] = v.patch;
      d.rows[`similarity/${r * cols + c}`] = await V.stack(await server.similarity_row(p.key, r, c), 255);
    } else if (v.patch) {
      const [r, c] = v.patch;
      const layer = V.core.indexOf(v.layer);
      d.rows[`${layer}/${r * cols + c}`] = await V.stack(await server.patch_row(p.key, layer, r, c), 255);
    } else if (V.core.needsClass(p.schema, v.method)) {
      d.classes[v.method][v.target] = await V.stack(await server.maps(p.key, v.method, v.target, 0), 65535);
    } else return;
  } catch (error) {
    note.textContent = fill(s["models.js.error"], { error: error.message || error });
    return;
  }
  schedule();
}

function paint(view) {
  box.innerHTML = "";
  const s = (models && models.strings) || {}, main = V.decoded, other = models && models.d;
  delete modelsRoot.dataset.views;
  if (models && models.error) { note.textContent = models.error; return; }
  if (!main || !other) { note.textContent = s["models.js.empty"] || ""; return; }
  if (other.payload.key[0] !== main.payload.key[0]) {  // the explorer shows a newer image: its turn is coming
    note.textContent = fill(s["models.js.waiting"], { title: other.payload.title });
    return;
  }
  const { shown, notes } = mapView(view, main, other, s);
  const method = V.tr(V.core.labelKey(main.payload.schema, view.method));
  note.textContent = [fill(s["models.js.note"], { method }), ...notes].join(" ");
  const panels = [[main, { ...view, grid: false }], [other, shown]];
  for (const [d, v] of panels) {
    const p = d.payload, [rows, cols] = p.grid, top = p.top[0];
    const caption = fill(s["models.js.caption"], { title: p.title, patch: p.patch, rows, cols, prefix: p.prefix.length,
      tokens: rows * cols + p.prefix.length, layer: v.layer, depth: p.depth }) + (top ? " · " + fill(s["models.js.top"], { label: V.className(p, top[0]), percent: `${(top[1] * 100).toFixed(0)}%` }) : "");
    const figure = card(caption);
    if (!V.paintMap(canvasIn(figure), V.small(d, 224), v, luts)) {
      if (d === other) fetchSecond(d, v, s);  // the explorer fetches what its own bundle lacks, then repaints
      return;
    }
  }
  modelsRoot.dataset.views = JSON.stringify(panels.map(([d, v]) => ({ title: d.payload.title, depth: d.payload.depth,
    layer: v.layer, head: V.core.countedHead(v.head), method: v.method, target: v.target, query: v.query, patch: v.patch })));
  modelsRoot.dataset.painted = String(performance.now());
}

async function load(value) {
  const mine = (ticket = value);
  const d = value && value.bundle ? await V.decode(value.bundle) : null;
  if (ticket !== mine) return;
  models = value ? { d, strings: value.strings || {}, error: value.error || "" } : null;
  repaint();
}
