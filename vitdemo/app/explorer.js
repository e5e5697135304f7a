// js_on_load of the explorer (gr.HTML, elem_id "explorer"): every view of one analysis, drawn in the page.
// In scope (Gradio): element, props (props.value = the bundle of vitdemo/explain/payload.py), server
// (relevance, rollout, patch_row: only for what needs the server), watch. The painter is window.vitdemo.
//
// Test contract (keep stable): the root #explorer gets data-painted (performance.now() after a paint) and
// data-view (JSON: layer from 1, head, method, ...); the layer control is input[type=range] inside
// #explorer-layer, the head control a <select> inside #explorer-head.
const V = window.vitdemo;
const root = element.closest("#explorer") || element;
const $ = (selector) => element.querySelector(selector);
const luts = V.lutsFrom(V.colormaps);
// Every word shown comes from V.tr (explorer_strings.js; the table is vitdemo/app/strings/explorer.py).
const tr = V.tr;
let d = null;          // the decoded bundle on screen
let loading = null;    // the bundle being decoded
let playing = null;    // the play button's timer
const view = { method: "attention", layer: 1, head: "mean", target: "", cmap: "inferno", opacity: 0.6,
               smooth: false, grid: false, indices: false, order: false, patch: null, query: 0 };

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
  faith: $(".vx-faith"), curves: $(".vx-curves"), aucs: $(".vx-aucs"), hide: $(".vx-hide"), without: $(".vx-without"),
};
const COLOURS = { attention: "#6366f1", rollout: "#059669", relevance: "#dc2626", legrad: "#d97706", random: "#6b7280" };
let hidden = [];       // click-to-hide: the patches dropped, as [row, col]

function percent(x) { return x >= 0.1 ? `${(x * 100).toFixed(0)}%` : `${(x * 100).toFixed(1)}%`; }
// A map value as the view means it: a share of the map, a token's norm, or a cosine similarity.
function readout(x) {
  if (view.method === "norms") return `‖x‖ ${x.toFixed(1)}`;
  if (view.method === "features") return `cos ${x.toFixed(2)}`;
  return percent(x);
}

function fillHeads() {
  const p = d.payload, options = ["mean", "max", "min", ...Array.from({ length: p.heads }, (_, h) => String(h))];
  controls.head.innerHTML = options.map((h) => `<option value="${h}">${V.FUSIONS.includes(h) ? tr(`explorer.fusion.${h}`)
    : tr("explorer.head_n", { head: h })}</option>`).join("");
}

function fillTargets() {
  const top = d.payload.top;
  controls.target.innerHTML = top.length ? `<option value="">${tr("explorer.top1", { label: top[0][0] })}</option>` +
    top.map(([label]) => `<option value="${label}">${label}</option>`).join("") : "";
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
  const p = d.payload;
  controls.layer.max = p.depth;
  controls.layer.value = view.layer;
  controls.layerOut.textContent = tr("explorer.layer_of", { layer: view.layer, depth: p.depth });
  const fusedOnly = V.FUSED_ONLY.includes(view.method) && !view.patch;
  for (const option of controls.head.options) {
    option.disabled = (fusedOnly && !V.FUSIONS.includes(option.value));
    option.title = option.disabled ? tr("explorer.why.heads") : "";
  }
  const perToken = ["norms", "features"].includes(view.method);
  controls.head.disabled = !!view.patch || perToken;
  controls.head.value = String(view.head);
  controls.headWhy.textContent = perToken ? tr("explorer.why.tokens") : view.patch ? tr("explorer.why.patch")
    : fusedOnly ? tr("explorer.why.heads") : "";
  controls.head.title = controls.headWhy.textContent;
  controls.targetBox.hidden = !V.CLASS_METHODS.includes(view.method) || !!view.patch;
  controls.target.value = view.target;
  controls.back.disabled = !view.patch && !view.query;
  for (const chip of controls.prefix.querySelectorAll("button")) {
    chip.setAttribute("aria-pressed", String(Number(chip.dataset.query) === view.query && view.method === "attention" && !view.patch));
  }
  controls.back.title = view.patch ? "" : tr("explorer.why.class_shown");
  controls.discard.disabled = view.method !== "rollout" || !!view.patch;
  controls.discard.title = controls.discard.disabled ? tr("explorer.why.discard") : "";
  controls.smooth.checked = view.smooth; controls.grid.checked = view.grid;
  controls.indices.checked = view.indices; controls.order.checked = view.order;
  controls.cmap.value = view.cmap; controls.opacity.value = view.opacity;
  for (const button of controls.methods) {
    button.setAttribute("aria-pressed", String(button.dataset.method === view.method && !view.patch));
    const classless = V.CLASS_METHODS.includes(button.dataset.method) && !p.classifier;
    button.disabled = classless;
    button.title = classless ? tr("explorer.why.no_classifier") : "";
  }
}

// Click to hide: the dropped patches drawn dark on the map; the classification without them from the server.
function dimHidden() {
  const ctx = controls.mapCanvas.getContext("2d"), p = d.payload, cell = p.patch * p.scale;
  ctx.fillStyle = "rgba(0, 0, 0, 0.75)";
  for (const [r, c] of hidden) ctx.fillRect(c * cell, r * cell, cell, cell);
}
async function toggleHidden(patch) {
  const at = hidden.findIndex(([r, c]) => r === patch[0] && c === patch[1]);
  at >= 0 ? hidden.splice(at, 1) : hidden.push(patch);
  paint();
  const mine = d, asked = hidden.map((x) => x.slice());
  if (!asked.length) { controls.without.textContent = ""; return; }
  controls.without.textContent = tr("explorer.classifying");
  try {
    const top = V.answer(await server.top_without(mine.payload.key, asked));
    if (mine !== d || JSON.stringify(asked) !== JSON.stringify(hidden)) return; // a newer click answers
    const was = Object.fromEntries(mine.payload.top);
    const listed = top.map(([label, prob]) =>
      `${label} ${percent(prob)}${label in was ? tr("explorer.was", { percent: percent(was[label]) }) : ""}`).join(" · ");
    controls.without.textContent = asked.length === 1 ? tr("explorer.without_one", { top: listed })
      : tr("explorer.without_many", { count: asked.length, top: listed });
  } catch (error) {
    controls.without.textContent = tr("explorer.classify_failed", { error: error.message || error });
  }
}

// Deletion and insertion curves of every method and a random map, with their AUCs (server: batched forwards).
async function faithfulness() {
  if (!d || !controls.faith.open) return;
  const mine = d;
  if (mine.faithfulness) return drawCurves(mine.faithfulness);
  controls.aucs.textContent = tr("explorer.measuring");
  try {
    mine.faithfulness = V.answer(await server.faithfulness(mine.payload.key));
  } catch (error) {
    controls.aucs.textContent = tr("explorer.not_available", { error: error.message || error });
    return;
  }
  if (mine === d) drawCurves(mine.faithfulness);
}
function drawCurves(results) {
  const canvas = controls.curves, ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
  const half = w / 2, pad = 26;
  ctx.clearRect(0, 0, w, h);
  ctx.font = "11px sans-serif"; ctx.fillStyle = "#333";
  [tr("explorer.curve.deletion"), tr("explorer.curve.insertion")].forEach((title, k) => {
    const x0 = k * half + pad, x1 = (k + 1) * half - 8, y0 = 14, y1 = h - pad;
    ctx.strokeStyle = "#999"; ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    ctx.fillStyle = "#333"; ctx.fillText(title, x0, h - 8); ctx.fillText("1", x0 - 10, y0 + 8); ctx.fillText("0", x0 - 10, y1);
    for (const [name, r] of Object.entries(results)) {
      const ys = k === 0 ? r.deletion : r.insertion;
      ctx.strokeStyle = COLOURS[name] || "#000"; ctx.lineWidth = name === "random" ? 1 : 2;
      ctx.setLineDash(name === "random" ? [4, 3] : []);
      ctx.beginPath();
      r.fractions.forEach((f, i) => { const x = x0 + f * (x1 - x0), y = y1 - ys[i] * (y1 - y0); i ? ctx.lineTo(x, y) : ctx.moveTo(x, y); });
      ctx.stroke();
    }
    ctx.setLineDash([]);
  });
  controls.aucs.innerHTML = Object.entries(results).map(([name, r]) =>
    `<span style="color:${COLOURS[name] || "#000"}">■</span> ` + tr("explorer.auc", { name: tr(`explorer.method.${name}`),
      deletion: r.deletion_auc.toFixed(3), insertion: r.insertion_auc.toFixed(3) })).join("<br>");
  element.dataset.faithfulness = JSON.stringify(Object.fromEntries(Object.entries(results).map(([n, r]) =>
    [n, [r.deletion_auc, r.insertion_auc]])));
}

// The tokens before the patches, drawn beside the grid: click one to see where it attends.
function prefixChips() {
  const p = d.payload, norms = view.method === "norms" ? d.lenses.norms : null, t = p.prefix.length;
  const n = p.grid[0] * p.grid[1], offset = (view.layer - 1) * (t + n);
  controls.prefix.innerHTML = p.prefix.map((kind, i) => {
    const norm = norms ? ` · ‖x‖ ${norms[offset + i].toFixed(1)}` : "";
    return `<button data-query="${i}" title="${tr("explorer.token_n", { index: i })}">${tr(`explorer.kind.${kind}`)}` +
      `${kind === "register" ? " " + i : ""}${norm}</button>`;
  }).join("") + `<span class="vx-why">${tr("explorer.then_patches", { count: n })}</span>`;
  for (const chip of controls.prefix.querySelectorAll("button")) {
    chip.setAttribute("aria-pressed", String(Number(chip.dataset.query) === view.query && view.method === "attention" && !view.patch));
    chip.addEventListener("click", () => {
      const method = ["attention"].includes(view.method) ? view.method : "attention";
      set({ query: Number(chip.dataset.query), method, patch: null });
    });
  }
}

// The patch tokens' norms in this layer as a histogram; far-out outliers in red.
function histogram(map) {
  const canvas = controls.histogram;
  canvas.hidden = view.method !== "norms";
  if (canvas.hidden) return;
  const width = 340, height = 60, bins = 30, values = Array.from(map.norms);
  canvas.width = width; canvas.height = height;
  const ctx = canvas.getContext("2d"), top = Math.max(...values) || 1;
  const counts = new Array(bins).fill(0), bad = new Array(bins).fill(0);
  values.forEach((v, i) => { const b = Math.min(bins - 1, Math.floor(v / top * bins)); counts[b]++; if (map.outliers.has(i)) bad[b]++; });
  const most = Math.max(...counts), w = width / bins;
  ctx.clearRect(0, 0, width, height);
  counts.forEach((c, b) => {
    const h = c / most * (height - 12);
    ctx.fillStyle = bad[b] ? "#dc2626" : "#6366f1";
    ctx.fillRect(b * w + 1, height - 12 - h, w - 2, h);
  });
  ctx.fillStyle = "#555"; ctx.font = "10px sans-serif";
  ctx.fillText("0", 0, height - 1); ctx.fillText(top.toFixed(0), width - 24, height - 1);
}

function caption() {
  const p = d.payload, layer = tr("explorer.layer_in", { layer: view.layer, depth: p.depth });
  const head = V.FUSIONS.includes(String(view.head))
    ? tr("explorer.fused", { fusion: tr(`explorer.fusion_short.${view.head}`), heads: p.heads }) : tr("explorer.head_n", { head: view.head });
  const title = tr(`explorer.title.${view.method}`);
  if (view.method === "norms") {
    const map = V.currentMap(d, view), count = map ? map.outliers.size : 0;
    return tr(count === 1 ? "explorer.caption.norms_one" : "explorer.caption.norms", { title, layer, count });
  }
  if (view.method === "features") return view.patch
    ? tr("explorer.caption.similarity", { row: view.patch[0], col: view.patch[1] })
    : tr("explorer.caption.features", { title });
  if (view.query > 0 && !view.patch) {
    return tr("explorer.caption.prefix", { kind: tr(`explorer.kind.${p.prefix[view.query]}`), index: view.query, layer, head });
  }
  if (view.patch) return tr("explorer.caption.patch", { row: view.patch[0], col: view.patch[1], layer, heads: p.heads });
  const label = view.target || (p.top[0] || [""])[0];
  if (view.method === "relevance") return tr("explorer.caption.relevance", { title, label, layer, head });
  if (view.method === "legrad") return tr("explorer.caption.legrad", { title, label, layer: view.layer, depth: p.depth, head });
  return tr(view.method === "attention" ? "explorer.caption.attention" : "explorer.caption.upto", { title, layer, head });
}

function scaleBar(map) {
  const lut = luts[view.cmap] || luts.inferno, ctx = controls.bar.getContext("2d");
  controls.bar.width = 256; controls.bar.height = 1;
  const row = ctx.createImageData(256, 1);
  for (let i = 0; i < 256; i++) row.data.set([lut[i * 3], lut[i * 3 + 1], lut[i * 3 + 2], 255], i * 4);
  ctx.putImageData(row, 0, 0);
  controls.low.textContent = "0";
  controls.high.textContent = readout(map.peak);
  controls.bar.hidden = controls.low.hidden = controls.high.hidden = !!map.rgb;
}

// Fetch from the server what the bundle lacks for this view; repaint when it arrives.
async function fetchMissing() {
  const p = d.payload, mine = d;
  try {
    if (view.method === "features" && view.patch) {
      const [r, c] = view.patch, index = r * p.grid[1] + c;
      controls.status.textContent = tr("explorer.fetch_similarity");
      mine.rows[`similarity/${index}`] = await V.stack(await server.similarity_row(p.key, r, c), 255);
    } else if (view.patch && !d.patches) {
      const [r, c] = view.patch, key = `${view.layer - 1}/${r * p.grid[1] + c}`;
      controls.status.textContent = tr("explorer.fetch_attention");
      const row = await server.patch_row(p.key, view.layer - 1, r, c);
      mine.rows[key] = await V.stack(row, 255);
    } else if (V.CLASS_METHODS.includes(view.method)) {
      const target = view.target || p.top[0][0], method = view.method;
      controls.status.textContent = tr("explorer.computing", { method: tr(`explorer.method.${method}`), label: target });
      const packed = await server[method](p.key, target);
      mine[method][target] = await V.stack(packed, 65535);
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
  if (hidden.length) dimHidden();
  controls.caption.textContent = caption();
  const { grid: gridLines, ...rest } = view;
  root.dataset.view = JSON.stringify({ ...rest, grid_lines: gridLines, patch_size: d.payload.patch, name: d.payload.name });
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
    d = null; root.dataset.view = ""; element.querySelector(".vx").hidden = true;
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
  if (!sameModel) Object.assign(view, { layer: payload.depth, head: "mean" });
  Object.assign(view, { patch: null, target: "", query: Math.min(view.query, payload.prefix.length - 1) });
  hidden = []; controls.without.textContent = ""; controls.aucs.textContent = "";
  controls.curves.getContext("2d").clearRect(0, 0, controls.curves.width, controls.curves.height);
  delete element.dataset.faithfulness;
  if (V.CLASS_METHODS.includes(view.method) && !payload.classifier) view.method = "attention";
  view.layer = Math.min(view.layer, payload.depth);
  controls.discard.value = payload.discard || 0; controls.discardOut.textContent = String(payload.discard || 0);
  paint();
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
    const method = button.dataset.method;
    const head = V.FUSED_ONLY.includes(method) && !V.FUSIONS.includes(String(view.head)) ? "mean" : view.head;
    set({ method, head, patch: null, query: method === "attention" ? view.query : 0 });
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
  if (!controls.hide.checked) { hidden = []; controls.without.textContent = ""; paint(); }
});
controls.back.addEventListener("click", () => set({ patch: null, query: 0 }));
controls.discard.addEventListener("change", async () => {
  if (!d) return;
  const ratio = Number(controls.discard.value), mine = d;
  controls.discardOut.textContent = String(ratio);
  controls.status.textContent = tr("explorer.rollout_recomputing");
  try {
    mine.maps.rollout = await V.stack(await server.rollout(mine.payload.key, ratio), 65535);
    controls.status.textContent = "";
  } catch (error) {
    controls.status.textContent = tr("explorer.rollout_failed", { error: error.message || error });
  }
  if (mine === d) paint();
});
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
    const value = !map || map.rgb ? "" : view.method === "norms" ? ` · ${readout(map.norms[at])}`
      : view.method === "features" ? ` · ${readout(map.values[at] * map.peak)}`
      : tr("explorer.of_map", { percent: percent(map.values[at] * map.peak) });
    controls.hover.textContent = tr("explorer.hover", { row: r, col: c, token: p.prefix.length + r * p.grid[1] + c, value });
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
  const suffix = what === "grid" ? "grid" : view.patch ? `patch${view.patch[0]}-${view.patch[1]}_layer${view.layer}`
    : `${view.method}${V.CLASS_METHODS.includes(view.method) && view.target ? "_" + view.target : ""}_layer${view.layer}` +
      (String(view.head) === "mean" ? "" : `_head${view.head}`);
  link.download = `${d.payload.name}_${suffix}.png`.replace(/[^A-Za-z0-9._-]+/g, "_");
  link.href = canvas.toDataURL("image/png");
  link.click();
}
controls.downloadMap.addEventListener("click", () => d && download(controls.mapCanvas, "map"));
controls.downloadGrid.addEventListener("click", () => d && download(controls.gridCanvas, "grid"));

watch("value", () => show(props.value));
translateStatic();
V.onLanguage(() => { translateStatic(); if (d) { fillHeads(); fillTargets(); paint(); } });
show(props.value);
