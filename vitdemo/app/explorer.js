// js_on_load of the explorer (gr.HTML, elem_id "explorer"): every view of one analysis, drawn in the page.
// In scope (Gradio): element, props (props.value = the bundle of vitdemo/explain/payload.py), server (its
// server functions, called in explorer_server.js), watch. explorer.py loads this after `const V =
// window.vitdemo` (the painter) and explorer_plots.js, explorer_server.js; this file holds the controls and
// the view. What a view means (methods, heads, file names) is V.core's (painter_core.js), from the bundle.
//
// Test contract (keep stable): the root #explorer gets data-painted (performance.now() after a paint) and
// data-view (JSON: layer and head from 1, as the page counts them (core.countedView), method, the clicked
// patch as the grid's [row, col] from 0, mode: "map" | "model" | "matrix", token: the matrix's picked query
// token from 0 or null, ...); the layer control is input[type=range] inside
// #explorer-layer, the head control a <select> inside #explorer-head.
const root = element.closest("#explorer") || element;
const $ = (selector) => element.querySelector(selector);
const luts = V.lutsFrom(V.colormaps);
// Every word shown comes from V.tr (explorer_strings.js; the table is vitdemo/app/strings/explorer.py).
const tr = V.tr;
let d = null;          // the decoded bundle on screen
let loading = null;    // the bundle being decoded
let playing = null;    // the play button's timer
const core = V.core;
let view = core.initialView();

const controls = {
  layer: $("#explorer-layer input[type=range]"), layerOut: $("#explorer-layer output"),
  head: $("#explorer-head select"), headWhy: $("#explorer-head .vx-why"),
  target: $("#explorer-target select"), targetBox: $("#explorer-target"),
  cmap: $(".vx-cmap"), opacity: $(".vx-opacity"), smooth: $(".vx-smooth"), grid: $(".vx-gridlines"),
  indices: $(".vx-indices"), order: $(".vx-order"), discard: $(".vx-discard"), discardOut: $(".vx-discard-out"),
  play: $(".vx-play"), back: $(".vx-back"), status: $(".vx-status"), hover: $(".vx-hover"),
  caption: $(".vx-caption"), prefix: $(".vx-prefix"), histogram: $(".vx-histogram"), mapCanvas: $(".vx-map"), gridCanvas: $(".vx-grid"), bar: $(".vx-bar"),
  low: $(".vx-low"), high: $(".vx-high"), methods: element.querySelectorAll(".vx-method button"),
  downloadMap: $(".vx-download-map"), downloadGrid: $(".vx-download-grid"),
  faith: $(".vx-faith"), curves: $(".vx-curves"), aucs: $(".vx-aucs"), hide: $(".vx-hide"),
};
let hidden = [];       // click-to-hide: the patches dropped, as [row, col]
const tokens = tokenViews({ element, set, tr, luts });  // the model view and the token matrix (view.mode)

function percent(x) { return x >= 0.1 ? `${(x * 100).toFixed(0)}%` : `${(x * 100).toFixed(1)}%`; }
// A map value as the view means it: a share of the map, a token's norm, or a cosine similarity.
function readout(x) {
  if (view.method === "norms") return `‖x‖ ${x.toFixed(1)}`;  // the lenses (core.isLens) read out their own
  if (view.method === "features") return `cos ${x.toFixed(2)}`;
  return percent(x);
}

function fillHeads() {
  const p = d.payload, options = p.head_order.map(String);
  controls.head.innerHTML = options.map((h) => `<option value="${h}">${core.isFusion(p.schema, h) ? tr(`explorer.fusion.${h}`)
    : tr("explorer.head_n", { head: core.counted(Number(h)) })}</option>`).join("");
}

function fillTargets() {
  const top = d.payload.top;
  const named = (label) => V.className(d.payload, label);
  controls.target.innerHTML = top.length ? `<option value="">${tr("explorer.top1", { label: named(top[0][0]) })}</option>` +
    top.map(([label]) => `<option value="${label}">${named(label)}</option>`).join("") : "";
}

// The template's fixed texts, and the faithfulness note with its link, in the page's language.
function translateStatic() {
  V.translate(element);
  const note = $(".vx-note"), [before, after = ""] = tr("explorer.faith_note").split("{link}");
  const link = Object.assign(document.createElement("a"), { href: "https://arxiv.org/abs/2312.05806", target: "_blank",
    rel: "noopener", textContent: tr("explorer.faith_link") });
  note.replaceChildren(before, link, after);
  if (!playing) controls.play.setAttribute("aria-label", tr("explorer.play"));
}

// Controls that do nothing in the current mode are disabled, with the reason next to them.
function syncControls() {
  const p = d.payload, schema = p.schema;
  controls.layer.max = p.depth;
  controls.layer.value = view.layer;
  controls.layerOut.textContent = tr("explorer.layer_of", { layer: view.layer, depth: p.depth });
  const fusedOnly = core.chainsLayers(schema, view.method) && !view.patch;
  const whyHeads = tr("explorer.why.heads", { method: tr(core.labelKey(schema, view.method)) });
  for (const option of controls.head.options) {
    option.disabled = (fusedOnly && !core.isFusion(schema, option.value));
    option.title = option.disabled ? whyHeads : "";
  }
  const perToken = core.isLens(view.method), base = core.baseMethod(schema);
  controls.head.disabled = !!view.patch || perToken;
  controls.head.value = String(view.head);
  controls.headWhy.textContent = perToken ? tr(view.method === V.lens.NAME ? "explorer.why.logit_lens" : "explorer.why.tokens") : view.patch ? tr("explorer.why.patch")
    : fusedOnly ? whyHeads : "";
  controls.head.title = controls.headWhy.textContent;
  controls.targetBox.hidden = !core.needsClass(schema, view.method) || !!view.patch;
  controls.back.hidden = !controls.targetBox.hidden;  // one place for both: the picker shows ⇒ Back does nothing
  controls.target.value = view.target;
  controls.back.disabled = !view.patch && !view.query;
  for (const chip of controls.prefix.querySelectorAll("button")) {
    chip.setAttribute("aria-pressed", String(Number(chip.dataset.query) === view.query && view.method === base && !view.patch));
  }
  controls.back.title = view.patch ? "" : tr("explorer.why.class_shown");
  controls.discard.disabled = !core.discards(schema, view.method) || !!view.patch;
  controls.discard.title = controls.discard.disabled ? tr("explorer.why.discard") : "";
  controls.smooth.checked = view.smooth; controls.grid.checked = view.grid;
  controls.indices.checked = view.indices; controls.order.checked = view.order;
  controls.cmap.value = view.cmap; controls.opacity.value = view.opacity;
  for (const button of controls.methods) {
    button.setAttribute("aria-pressed", String(button.dataset.method === view.method && !view.patch));
    const classless = core.needsClass(schema, button.dataset.method) && !p.classifier
      || button.dataset.method === V.lens.NAME && !p.logit_lens;
    button.disabled = classless;
    button.title = !classless ? "" : tr(button.dataset.method === V.lens.NAME ? "explorer.why.lens_no_classifier"
      : "explorer.why.no_classifier");
  }
}

// Click to hide: the dropped patches drawn dark on the map; the classification without them from the server,
// shown in the top-5 beside the map (explorer_top5.js).
async function toggleHidden(patch) {
  const at = hidden.findIndex(([r, c]) => r === patch[0] && c === patch[1]);
  at >= 0 ? hidden.splice(at, 1) : hidden.push(patch);
  paint();
  const mine = d, asked = hidden.map((x) => x.slice());
  if (!asked.length) { clearTopWithout(); return; }
  showTopWithout(tr("explorer.classifying"), null, {}, percent);
  try {
    const top = await fetchTopWithout(mine, asked);
    if (mine !== d || JSON.stringify(asked) !== JSON.stringify(hidden)) return; // a newer click answers
    const title = asked.length === 1 ? tr("explorer.without_one") : tr("explorer.without_many", { count: asked.length });
    const named = (pairs) => pairs.map(([label, p]) => [V.className(mine.payload, label), p]);  // shown, not keys
    showTopWithout(title, named(top), Object.fromEntries(named(mine.payload.top)), percent);
  } catch (error) {
    if (mine === d) showTopWithout(tr("explorer.classify_failed", { error: error.message || error }), null, {}, percent);
  }
}

// Deletion and insertion curves of every method and a random map, with their AUCs (server: batched forwards).
async function faithfulness() {
  if (!d || !controls.faith.open) return;
  const mine = d;
  if (mine.faithfulness) return drawCurves(mine.faithfulness);
  controls.aucs.textContent = tr("explorer.measuring");
  try {
    mine.faithfulness = await fetchFaithfulness(mine);
  } catch (error) {
    controls.aucs.textContent = tr("explorer.not_available", { error: error.message || error });
    return;
  }
  if (mine === d) drawCurves(mine.faithfulness);
}
function drawCurves(results) {
  controls.aucs.innerHTML = plotCurves(controls.curves, results, d.payload.schema, tr);
  element.dataset.faithfulness = JSON.stringify(Object.fromEntries(Object.entries(results).map(([n, r]) =>
    [n, [r.deletion_auc, r.insertion_auc]])));
}

// The tokens before the patches, drawn beside the grid: click one to see where it attends.
function prefixChips() {
  const p = d.payload, norms = view.method === "norms" ? d.lenses.norms : null, t = p.prefix.length;
  const base = core.baseMethod(p.schema);
  const n = p.grid[0] * p.grid[1], offset = core.indexOf(view.layer) * (t + n);
  controls.prefix.innerHTML = p.prefix.map((kind, i) => {
    const norm = norms ? ` · ‖x‖ ${norms[offset + i].toFixed(1)}` : "";
    return `<button data-query="${i}" title="${tr("explorer.token_n", { index: i })}">${tr(`explorer.kind.${kind}`)}` +
      `${kind === "register" ? " " + i : ""}${norm}</button>`;
  }).join("") + `<span class="vx-why">${tr("explorer.then_patches", { count: n })}</span>`;
  for (const chip of controls.prefix.querySelectorAll("button")) {
    chip.setAttribute("aria-pressed", String(Number(chip.dataset.query) === view.query && view.method === base && !view.patch));
    chip.addEventListener("click", () => set({ query: Number(chip.dataset.query), method: base, patch: null }));
  }
}

// The patch tokens' norms in this layer as a histogram (token norms only).
function histogram(map) {
  controls.histogram.hidden = view.method !== "norms";
  if (!controls.histogram.hidden) drawHistogram(controls.histogram, map);
}

function caption() {
  const p = d.payload, schema = p.schema, layer = tr("explorer.layer_in", { layer: view.layer, depth: p.depth });
  const head = core.isFusion(schema, view.head)
    ? tr("explorer.fused", { fusion: tr(`explorer.fusion_short.${view.head}`), heads: p.heads })
    : tr("explorer.head_n", { head: core.counted(view.head) });
  const title = tr(core.titleKey(schema, view.method));
  if (view.method === "norms") {
    const map = V.currentMap(d, view), count = map ? map.outliers.size : 0;
    return tr(count === 1 ? "explorer.caption.norms_one" : "explorer.caption.norms", { title, layer, count });
  }
  if (view.method === V.lens.NAME) return V.lens.caption(d, view, tr, layer);
  if (view.method === "features") return view.patch
    ? tr("explorer.caption.similarity", { row: core.counted(view.patch[0]), col: core.counted(view.patch[1]) })
    : tr("explorer.caption.features", { title });
  if (view.query > 0 && !view.patch) {
    return tr("explorer.caption.prefix", { kind: tr(`explorer.kind.${p.prefix[view.query]}`), index: view.query, layer, head });
  }
  if (view.patch) {
    return tr("explorer.caption.patch", { row: core.counted(view.patch[0]), col: core.counted(view.patch[1]), layer, heads: p.heads });
  }
  const label = V.className(p, view.target || (p.top[0] || [""])[0]);
  return tr(core.captionKey(schema, view.method), { title, label, layer, head });
}

function scaleBar(map) {
  drawScale(controls.bar, luts[view.cmap] || luts.inferno);
  controls.low.textContent = "0";
  controls.high.textContent = readout(map.peak);
  // A colour map (features) has no scale: the row keeps its height, so the pictures above stay where they are.
  controls.bar.parentElement.style.visibility = map.rgb ? "hidden" : "";
}

// Fetch from the server what the bundle lacks for this view; repaint when it arrives.
async function fetchMissing() {
  const p = d.payload, mine = d;
  try {
    if (view.method === "features" && view.patch) {
      const [r, c] = view.patch, index = r * p.grid[1] + c;
      controls.status.textContent = tr("explorer.fetch_similarity");
      mine.rows[`similarity/${index}`] = await fetchSimilarityRow(mine, view.patch);
    } else if (view.patch && !d.patches) {
      const [r, c] = view.patch, key = `${core.indexOf(view.layer)}/${r * p.grid[1] + c}`;
      controls.status.textContent = tr("explorer.fetch_attention");
      mine.rows[key] = await fetchPatchRow(mine, view.layer, view.patch);
    } else if (core.needsClass(p.schema, view.method)) {
      const target = view.target || p.top[0][0], method = view.method;
      controls.status.textContent = tr("explorer.computing", { method: tr(core.labelKey(p.schema, method)), label: V.className(p, target) });
      mine.classes[method][target] = await fetchMaps(mine, method, target, 0);
    }
    controls.status.textContent = "";
  } catch (error) {
    controls.status.textContent = tr("explorer.view_failed", { error: error.message || error });
    return;
  }
  if (mine === d) paint();
}

function paint() {
  if (!d) return;
  syncControls();
  const map = V.paintMap(controls.mapCanvas, d, view, luts);
  V.paintGrid(controls.gridCanvas, d, view);
  if (!map) { fetchMissing(); return; }
  scaleBar(map);
  prefixChips();
  histogram(map);
  if (hidden.length) drawHidden(controls.mapCanvas, d.payload, hidden);
  controls.caption.textContent = caption();
  tokens.paint(d, view);
  V.lens.legend(element, root, d, view);
  const { grid: gridLines, ...rest } = view;
  root.dataset.view = JSON.stringify({ ...core.countedView(rest), grid_lines: gridLines, patch_size: d.payload.patch,
    name: d.payload.name });
  root.dataset.painted = String(performance.now());
  V.view = { ...view }; V.decoded = d;
  V.bus.dispatchEvent(new CustomEvent("view", { detail: { view: { ...view }, decoded: d } }));
}

function set(changes) {
  Object.assign(view, changes);
  paint();
}

async function show(payload) {
  stop();
  if (!payload || !payload.grid) {
    d = null; root.dataset.view = ""; element.querySelector(".vx").hidden = true; hidden = []; clearTopWithout();
    V.decoded = null; V.bus.dispatchEvent(new CustomEvent("view", { detail: { view: { ...view }, decoded: null } }));
    return;
  }
  const ticket = (loading = payload);
  const decoded = await V.decode(payload);
  if (loading !== ticket) return; // a newer bundle arrived while this one decoded
  const sameModel = d && d.payload.depth === payload.depth && d.payload.heads === payload.heads;
  d = decoded;
  element.querySelector(".vx").hidden = false;
  fillHeads(); fillTargets();
  view = core.forBundle(view, payload, !!sameModel);
  hidden = []; clearTopWithout(); controls.aucs.textContent = "";
  controls.curves.getContext("2d").clearRect(0, 0, controls.curves.width, controls.curves.height);
  delete element.dataset.faithfulness;
  clearSanity();  // explorer_sanity.js
  controls.discard.value = payload.discard || 0; controls.discardOut.textContent = String(payload.discard || 0);
  paint();
  if (performance.now() < (V.revealUntil || 0)) { V.revealUntil = 0; revealResults(); }
  faithfulness();
}

function stop() {
  if (playing) { clearInterval(playing); playing = null; controls.play.textContent = "▶"; controls.play.setAttribute("aria-label", tr("explorer.play")); }
}

function play() {
  if (playing) { stop(); return; }
  if (!d) return;
  if (view.layer >= d.payload.depth) set({ layer: 1 });
  controls.play.textContent = "⏸"; controls.play.setAttribute("aria-label", tr("explorer.pause"));
  playing = setInterval(() => {
    if (!d || view.layer >= d.payload.depth) { stop(); return; }
    set({ layer: view.layer + 1 });
  }, 450);
}

function stepHead(delta) {
  const options = Array.from(controls.head.options).filter((o) => !o.disabled).map((o) => o.value);
  const at = options.indexOf(String(view.head));
  const next = options[Math.min(Math.max(at + delta, 0), options.length - 1)];
  set({ head: /^\d+$/.test(next) ? Number(next) : next });
}

for (const button of controls.methods) {
  button.addEventListener("click", () => {
    if (!d) return;
    view = core.withMethod(view, d.payload.schema, button.dataset.method);
    paint();
  });
}
controls.layer.addEventListener("input", () => { stop(); set({ layer: Number(controls.layer.value) }); });
controls.head.addEventListener("change", () => {
  const h = controls.head.value;
  set({ head: /^\d+$/.test(h) ? Number(h) : h });
});
controls.target.addEventListener("change", () => set({ target: controls.target.value }));
controls.cmap.addEventListener("change", () => set({ cmap: controls.cmap.value }));
controls.opacity.addEventListener("input", () => set({ opacity: Number(controls.opacity.value) }));
controls.smooth.addEventListener("change", () => set({ smooth: controls.smooth.checked }));
controls.grid.addEventListener("change", () => set({ grid: controls.grid.checked }));
controls.indices.addEventListener("change", () => set({ indices: controls.indices.checked }));
controls.order.addEventListener("change", () => set({ order: controls.order.checked }));
controls.play.addEventListener("click", play);
controls.faith.addEventListener("toggle", faithfulness);
controls.hide.addEventListener("change", () => {
  if (!controls.hide.checked) { hidden = []; clearTopWithout(); paint(); }
});
controls.back.addEventListener("click", () => set({ patch: null, query: 0 }));
controls.discard.addEventListener("change", async () => {
  if (!d) return;
  const ratio = Number(controls.discard.value), mine = d;
  controls.discardOut.textContent = String(ratio);
  controls.status.textContent = tr("explorer.rollout_recomputing");
  try {
    for (const { name } of mine.payload.schema.methods.filter((m) => m.discards && !m.needs_class)) {
      mine.maps[name] = await fetchMaps(mine, name, "", ratio);
    }
    controls.status.textContent = "";
  } catch (error) {
    controls.status.textContent = tr("explorer.rollout_failed", { error: error.message || error });
  }
  if (mine === d) paint();
});
// The grid (and the map with grid lines) is drawn in device pixels for the width it is shown at: again
// when that width changes.
let gridWidth = 0;
new ResizeObserver(([entry]) => {
  const width = entry.contentRect.width;
  if (!d || !width || width === gridWidth) return;
  gridWidth = width;
  view.grid ? paint() : V.paintGrid(controls.gridCanvas, d, view);
}).observe(controls.gridCanvas.parentElement);
for (const canvas of [controls.mapCanvas, controls.gridCanvas]) {
  canvas.addEventListener("click", (event) => {
    if (!d) return;
    const patch = V.patchAt(canvas, d, event);
    if (controls.hide.checked && canvas === controls.mapCanvas) toggleHidden(patch);
    else set({ patch });
  });
  canvas.addEventListener("mousemove", (event) => {
    if (!d) return;
    const [r, c] = V.patchAt(canvas, d, event), p = d.payload, map = V.currentMap(d, view);
    const at = r * p.grid[1] + c;
    const value = view.method === V.lens.NAME && map ? ` · ${V.lens.hover(d, view, at)}`
      : !map || map.rgb ? "" : view.method === "norms" ? ` · ${readout(map.norms[at])}`
      : view.method === "features" ? ` · ${readout(map.values[at] * map.peak)}`
      : tr("explorer.of_map", { percent: percent(map.values[at] * map.peak) });
    controls.hover.textContent = tr("explorer.hover", { row: core.counted(r), col: core.counted(c),
      token: p.prefix.length + r * p.grid[1] + c, value });
  });
  canvas.addEventListener("mouseleave", () => { controls.hover.textContent = ""; });
}
element.addEventListener("keydown", (event) => {
  if (!d || ["INPUT", "SELECT"].includes(event.target.tagName) && event.target.type !== "range") return;
  const keys = { ArrowLeft: () => set({ layer: Math.max(1, view.layer - 1) }),
                 ArrowRight: () => set({ layer: Math.min(d.payload.depth, view.layer + 1) }),
                 ArrowUp: () => stepHead(-1), ArrowDown: () => stepHead(1), Escape: () => set({ patch: null }) };
  if (keys[event.key]) { event.preventDefault(); stop(); keys[event.key](); }
});
function download(canvas, what) {
  const link = document.createElement("a");
  const drawn = core.countedView({ ...view, head: core.drawnHead(view) });
  link.download = core.safeName(core.fileName(d.payload.name, what, drawn, d.payload.schema), ".png");
  link.href = canvas.toDataURL("image/png");
  link.click();
}
controls.downloadMap.addEventListener("click", () => d && download(controls.mapCanvas, "map"));
controls.downloadGrid.addEventListener("click", () => d && download(controls.gridCanvas, "grid"));

watch("value", () => show(props.value));
translateStatic();
V.onLanguage(() => { translateStatic(); if (d) { fillHeads(); fillTargets(); paint(); } });
show(props.value);
