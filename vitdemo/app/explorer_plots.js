// The explorer's plots (part of its js_on_load, before explorer.js): the deletion/insertion curves, the token
// norms' histogram and the colour scale. Each draws what it is given into the canvas it is given; none reads
// the view or calls the server. `tr` is window.vitdemo.tr, `schema` the bundle's table of methods.
const RANDOM_COLOUR = "#6b7280";  // the random map's curve (no method of the table)

// Deletion and insertion curves of every method and a random map, side by side; their AUCs as HTML.
function plotCurves(canvas, results, schema, tr) {
  const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height, half = w / 2, pad = 26;
  const colour = (name) => (V.core.methodOf(schema, name) || { colour: RANDOM_COLOUR }).colour;
  ctx.clearRect(0, 0, w, h);
  ctx.font = "11px sans-serif"; ctx.fillStyle = "#333";
  [tr("explorer.curve.deletion"), tr("explorer.curve.insertion")].forEach((title, k) => {
    const x0 = k * half + pad, x1 = (k + 1) * half - 8, y0 = 14, y1 = h - pad;
    ctx.strokeStyle = "#999"; ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    ctx.fillStyle = "#333"; ctx.fillText(title, x0, h - 8); ctx.fillText("1", x0 - 10, y0 + 8); ctx.fillText("0", x0 - 10, y1);
    for (const [name, r] of Object.entries(results)) {
      const ys = k === 0 ? r.deletion : r.insertion, baseline = !V.core.methodOf(schema, name);
      ctx.strokeStyle = colour(name); ctx.lineWidth = baseline ? 1 : 2;
      ctx.setLineDash(baseline ? [4, 3] : []);
      ctx.beginPath();
      r.fractions.forEach((f, i) => { const x = x0 + f * (x1 - x0), y = y1 - ys[i] * (y1 - y0); i ? ctx.lineTo(x, y) : ctx.moveTo(x, y); });
      ctx.stroke();
    }
    ctx.setLineDash([]);
  });
  return Object.entries(results).map(([name, r]) =>
    `<span style="color:${colour(name)}">■</span> ` + tr("explorer.auc", { name: tr(V.core.labelKey(schema, name)),
      deletion: r.deletion_auc.toFixed(3), insertion: r.insertion_auc.toFixed(3) })).join("<br>");
}

// The cascading randomisation test: one curve per method, Spearman's ρ (−1 … 1) against the steps "trained",
// "head", then layer L down to 1, drawn at the canvas's shown width; the axis and legend as HTML.
function plotSanity(canvas, results, schema, tr) {
  canvas.width = Math.max(240, Math.min(640, Math.round(canvas.clientWidth || 640)));
  canvas.height = Math.round(canvas.width * 0.32) + 20;
  const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height, x0 = 22, x1 = w - 14, y0 = 8, y1 = h - 18;
  const names = Object.keys(results), steps = results[names[0]].length + 1, depth = steps - 2;
  const x = (i) => x0 + i * (x1 - x0) / (steps - 1), y = (rho) => y0 + (1 - rho) / 2 * (y1 - y0);
  ctx.clearRect(0, 0, w, h);
  ctx.font = "11px sans-serif"; ctx.strokeStyle = "#999"; ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
  ctx.fillStyle = "#333"; ctx.fillText("1", x0 - 10, y0 + 8); ctx.fillText("0", x0 - 10, y(0) + 4); ctx.fillText("−1", x0 - 18, y1);
  ctx.setLineDash([3, 3]); ctx.beginPath(); ctx.moveTo(x0, y(0)); ctx.lineTo(x1, y(0)); ctx.stroke(); ctx.setLineDash([]);
  const ticks = [tr("explorer.sanity.trained"), tr("explorer.sanity.head"),
    ...Array.from({ length: depth }, (_, k) => String(depth - k))];
  let free = 0;  // labels that would overlap the one before are left out
  ticks.forEach((t, i) => {
    const width = ctx.measureText(t).width, left = Math.min(Math.max(x(i) - width / 2, 0), w - width);
    if (left >= free) { ctx.fillText(t, left, h - 4); free = left + width + 6; }
  });
  for (const name of names) {
    ctx.strokeStyle = V.core.methodOf(schema, name).colour; ctx.lineWidth = 2;
    ctx.beginPath();
    [1, ...results[name]].forEach((rho, i) => (i ? ctx.lineTo(x(i), y(rho)) : ctx.moveTo(x(i), y(rho))));
    ctx.stroke();
  }
  return [tr("explorer.sanity.axis"), ...names.map((name) => `<span style="color:${V.core.methodOf(schema, name).colour}">■</span> ` +
    tr("explorer.sanity.line", { name: tr(V.core.labelKey(schema, name)), head: results[name][0].toFixed(2),
      last: results[name][results[name].length - 1].toFixed(2) }))].join("<br>");
}

// The patch tokens' norms in one layer as a histogram; far-out outliers in red.
function drawHistogram(canvas, map) {
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

// The colormap as a 256-pixel bar (CSS stretches it).
function drawScale(canvas, lut) {
  const ctx = canvas.getContext("2d");
  canvas.width = 256; canvas.height = 1;
  const row = ctx.createImageData(256, 1);
  for (let i = 0; i < 256; i++) row.data.set([lut[i * 3], lut[i * 3 + 1], lut[i * 3 + 2], 255], i * 4);
  ctx.putImageData(row, 0, 0);
}

// Click to hide: the dropped patches drawn dark over the map.
function drawHidden(canvas, payload, hidden) {
  const ctx = canvas.getContext("2d"), cell = payload.patch * payload.scale * canvas.width / (payload.size[0] * payload.scale);
  ctx.fillStyle = "rgba(0, 0, 0, 0.75)";
  for (const [r, c] of hidden) ctx.fillRect(c * cell, r * cell, cell, cell);
}
