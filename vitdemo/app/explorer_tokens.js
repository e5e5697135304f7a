// The explorer's two views of whole layers (part of its js_on_load, before explorer.js), as BertViz and
// Transformer Explainer have them:
// - the model view (view.mode "model"): every layer × head as a small map, painted from the bundle; a click
//   opens that layer and head in the explorer;
// - the token matrix (view.mode "matrix"): the attention of every token to every token at the view's layer and
//   head, each row the softmax of the query·key scores the bundle carries (payload.tokens, or one layer and
//   head asked of the server for a large grid); hover reads a cell, a click on a row picks that query token
//   (view.token): its row over the image and its scores before the softmax beside the probabilities after.
// explorer.js calls `paint(d, view)` after each paint; what a click changes goes back through its `set`.
// Pure arithmetic (labels, softmax, layout) is V.tokens (tokens_core.js).
function tokenViews({ element, set, tr, luts }) {
  const T = V.tokens, $ = (selector) => element.querySelector(selector);
  const parts = {
    modes: element.querySelectorAll(".vx-modes button"), pictures: $(".vx-pictures"), model: $(".vx-model"),
    modelCanvas: $(".vx-model canvas"), matrix: $(".vx-matrix"), matrixCanvas: $(".vx-matrix-cells"),
    legend: $(".vx-matrix-legend"), row: $(".vx-token-row"), rowCaption: $(".vx-token-caption"),
    scores: $(".vx-scores"), note: $(".vx-scores-note"), hover: $(".vx-hover"), caption: $(".vx-caption"),
    status: $(".vx-status"),
  };
  const MODEL_HEIGHT = 520, MATRIX_SIZE = 340;  // CSS px: the model view's height, the matrix's side at most
  const KINDS = { class: "#dc2626", distillation: "#ea580c", register: "#16a34a", prefix: "#9333ea" };
  let shown = null, layout = null;  // {d, view} last painted; the model view's tile layout

  const fusions = (d) => d.payload.schema.fusions;
  const singleHeads = (d) => d.payload.head_order.filter((h) => !fusions(d).includes(String(h)));
  // The method whose maps the model view shows: the view's, where it has one map per head and layer, else the
  // first of the table (class-token attention); a prefix token's query stays with it.
  function modelMethod(d, view) {
    const schema = d.payload.schema, m = V.core.methodOf(schema, view.method);
    return m && !m.chains_layers && !m.needs_class ? view.method : V.core.baseMethod(schema);
  }
  function tokenName(d, index) {
    const label = T.tokenLabel(d.payload.prefix, d.payload.grid, index);
    if (label.kind === "patch") return tr("explorer.tokens.patch", { number: label.number, row: label.row, col: label.col });
    const kind = tr(`explorer.kind.${label.kind}`);
    return label.kind === "class" ? kind : `${kind} ${label.number}`;
  }
  const percent = (x) => x >= 0.1 ? `${(x * 100).toFixed(0)}%` : `${(x * 100).toFixed(2)}%`;

  // A canvas `css` px wide sized in device pixels, its context scaled to draw in CSS px.
  function sized(canvas, css, height) {
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(css * ratio); canvas.height = Math.round(height * ratio);
    canvas.style.width = `${css}px`; canvas.style.height = `${height}px`;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.imageSmoothingEnabled = false;
    return ctx;
  }
  // Colour indices as a picture one pixel per value (drawImage scales it, nearest).
  function indexPicture(indices, width, height, lut) {
    const canvas = document.createElement("canvas");
    canvas.width = width; canvas.height = height;
    const ctx = canvas.getContext("2d"), image = ctx.createImageData(width, height);
    indices.forEach((k, p) => image.data.set([lut[k * 3], lut[k * 3 + 1], lut[k * 3 + 2], 255], p * 4));
    ctx.putImageData(image, 0, 0);
    return canvas;
  }
  const boxWidth = (panel) => Math.max(200, Math.min(760, panel.clientWidth || element.clientWidth || 340));

  // -- the model view ----------------------------------------------------------------------------------------
  function paintModel(d, view) {
    const p = d.payload, heads = singleHeads(d), method = modelMethod(d, view), lut = luts[view.cmap] || luts.inferno;
    const [rows, cols] = p.grid, aspect = p.size[1] / p.size[0];
    layout = T.modelLayout(boxWidth(parts.model), p.depth, heads.length, aspect, MODEL_HEIGHT);
    const ctx = sized(parts.modelCanvas, layout.width, layout.height), { tile, tileHeight, gap, left, top } = layout;
    ctx.fillStyle = "#555"; ctx.font = "10px sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
    heads.forEach((_, h) => ctx.fillText(String(h + 1), left + h * (tile + gap) + tile / 2, top / 2));
    const shownHead = T.headIndex(p, view.head, fusions(d));
    for (let layer = 1; layer <= p.depth; layer++) {
      const y = top + (layer - 1) * (tileHeight + gap);
      ctx.fillStyle = "#555"; ctx.fillText(String(layer), left / 2, y + tileHeight / 2);
      heads.forEach((head, h) => {
        const x = left + h * (tile + gap);
        const map = V.currentMap(d, { ...view, method, layer, head, patch: null });
        ctx.globalAlpha = 1; ctx.drawImage(V.baseCanvas(d), x, y, tile, tileHeight);
        if (!map) return;
        const heat = indexPicture(Array.from(map.values, (v) => Math.round(v * 255)), cols, rows, lut);
        ctx.globalAlpha = view.opacity; ctx.imageSmoothingEnabled = !!view.smooth;
        ctx.drawImage(heat, x, y, tile * cols * p.patch / p.size[0], tileHeight * rows * p.patch / p.size[1]);
        ctx.imageSmoothingEnabled = false; ctx.globalAlpha = 1;
        if (layer === view.layer && h === shownHead) {
          ctx.strokeStyle = "rgb(0, 255, 255)"; ctx.lineWidth = 2; ctx.strokeRect(x + 1, y + 1, tile - 2, tileHeight - 2);
        }
      });
    }
    const query = view.query > 0 && method === V.core.baseMethod(p.schema) ? tokenName(d, view.query) : tr("explorer.kind.class");
    parts.caption.textContent = tr("explorer.tokens.model_caption", { method: tr(V.core.labelKey(p.schema, method)),
      token: query, layers: p.depth, heads: heads.length });
    parts.modelCanvas.dataset.method = method;
    parts.modelCanvas.dataset.layout = JSON.stringify(layout);  // where the tiles lie, in CSS px (tests point there)
    parts.modelCanvas.dataset.drawn = String(performance.now());
  }
  function modelTile(event) {
    const box = parts.modelCanvas.getBoundingClientRect();
    return layout && T.tileAt(layout, event.clientX - box.left, event.clientY - box.top);
  }
  parts.modelCanvas.addEventListener("mousemove", (event) => {
    const at = shown && modelTile(event);
    parts.hover.textContent = at ? tr("explorer.tokens.model_hover", { layer: at[0] + 1, head: at[1] + 1 }) : "";
  });
  parts.modelCanvas.addEventListener("mouseleave", () => { parts.hover.textContent = ""; });
  parts.modelCanvas.addEventListener("click", (event) => {
    const at = shown && modelTile(event);
    if (!at) return;
    const { d, view } = shown;
    set({ mode: "map", layer: at[0] + 1, head: singleHeads(d)[at[1]], method: modelMethod(d, view), patch: null });
  });

  // -- the token matrix ----------------------------------------------------------------------------------------
  // The (T, T) scores of the view's layer and head, and where they start: from the bundle, from a row fetched
  // earlier, or null while they are decoded or fetched (the view is painted again when they arrive).
  function scoresOf(d, layer, head) {
    const t = d.payload.tokens;
    if (!t) return null;
    if (t.scores) {
      if (!d.tokenScores) { decodeScores(d); return null; }
      return { scores: d.tokenScores, offset: ((layer * d.payload.heads) + head) * t.count * t.count };
    }
    const key = `scores/${layer}/${head}`;
    if (d.rows[key]) return { scores: d.rows[key], offset: 0 };
    fetchScores(d, layer, head, key);
    return null;
  }
  async function decodeScores(d) {
    if (d.decodingScores) return;
    d.decodingScores = true;
    const raw = await V.inflate(d.payload.tokens.scores);
    d.tokenScores = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
    repaint(d);
  }
  async function fetchScores(d, layer, head, key) {
    if (d.rows[`${key}/asked`]) return;
    d.rows[`${key}/asked`] = true;
    parts.status.textContent = tr("explorer.tokens.fetching");
    try {
      d.rows[key] = await fetchScoreMatrix(d, layer, head);
      parts.status.textContent = "";
    } catch (error) {
      d.rows[`${key}/asked`] = false;
      parts.status.textContent = tr("explorer.tokens.failed", { error: error.message || error });
      return;
    }
    repaint(d);
  }
  function repaint(d) { if (shown && shown.d === d) paint(d, shown.view); }

  // Every row's softmax, for the view's layer and head (the first head for a fusion, which has no scores);
  // the last one kept, since a hover reads it at every move (785² exponentials at patch 8 on ViT-B/16).
  function matrixOf(d, view) {
    const head = Math.max(0, T.headIndex(d.payload, view.head, fusions(d))), layer = view.layer - 1;
    if (d.matrix && d.matrix.layer === layer && d.matrix.head === head) return d.matrix;
    const source = scoresOf(d, layer, head);
    if (!source) return null;
    const count = d.payload.tokens.count;
    const rows = Array.from({ length: count }, (_, i) => T.softmaxRow(source.scores, source.offset, count, i));
    d.matrix = { rows, count, head, layer, source };
    return d.matrix;
  }
  function matrixGeometry(d) {
    const band = 8, size = Math.min(boxWidth(parts.matrix) - band, MATRIX_SIZE);
    return { band, size, cell: size / d.payload.tokens.count };
  }
  function paintMatrix(d, view) {
    const m = matrixOf(d, view), p = d.payload;
    const fused = T.headIndex(p, view.head, fusions(d)) < 0;
    parts.caption.textContent = tr(fused ? "explorer.tokens.matrix_caption_fused" : "explorer.tokens.matrix_caption",
      { layer: view.layer, depth: p.depth, head: (m ? m.head : 0) + 1, count: p.tokens ? p.tokens.count : 0 });
    if (!m) return;
    const { band, size } = matrixGeometry(d), lut = luts[view.cmap] || luts.inferno;
    const ctx = sized(parts.matrixCanvas, size + band, size + band);
    ctx.drawImage(indexPicture(T.rowIndices(m.rows, m.count), m.count, m.count, lut), band, band, size, size);
    const cell = size / m.count;
    for (let i = 0; i < m.count; i++) {  // the kind of each token along both edges; patch rows in two greys
      const label = T.tokenLabel(p.prefix, p.grid, i);
      ctx.fillStyle = KINDS[label.kind] || (label.row % 2 ? "#9ca3af" : "#4b5563");
      ctx.fillRect(0, band + i * cell, band - 1, cell); ctx.fillRect(band + i * cell, 0, cell, band - 1);
    }
    if (view.token !== null && view.token !== undefined && view.token < m.count) {
      ctx.strokeStyle = "rgb(0, 255, 255)"; ctx.lineWidth = 2;
      ctx.strokeRect(band, band + view.token * cell, size, Math.max(cell, 2));
    }
    parts.matrixCanvas.dataset.head = String(m.head + 1);
    parts.matrixCanvas.dataset.drawn = String(performance.now());
    parts.legend.innerHTML = ["class", "register", "distillation"].filter((k) => p.prefix.includes(k))
      .map((k) => `<span style="color:${KINDS[k]}">■</span> ${tr(`explorer.kind.${k}`)}`).join(" · ") +
      ` · <span style="color:#6b7280">■</span> ${tr("explorer.tokens.legend_patches", { rows: p.grid[0], cols: p.grid[1] })}`;
    paintToken(d, view, m);
  }
  function matrixCell(event) {
    if (!shown || !shown.d.payload.tokens) return null;
    const { band, size } = matrixGeometry(shown.d), box = parts.matrixCanvas.getBoundingClientRect();
    return T.cellAt(shown.d.payload.tokens.count, (event.clientX - box.left - band) / size, (event.clientY - box.top - band) / size);
  }
  parts.matrixCanvas.addEventListener("mousemove", (event) => {
    const at = matrixCell(event), m = at && matrixOf(shown.d, shown.view);
    if (!m) { parts.hover.textContent = ""; return; }
    const [i, j] = at, score = m.source.scores[m.source.offset + i * m.count + j];
    parts.hover.textContent = tr("explorer.tokens.matrix_hover", { query: tokenName(shown.d, i), key: tokenName(shown.d, j),
      percent: percent(m.rows[i][j]), score: score.toFixed(2) });
    parts.matrixCanvas.dataset.hover = JSON.stringify([i, j, m.rows[i][j]]);
  });
  parts.matrixCanvas.addEventListener("mouseleave", () => { parts.hover.textContent = ""; });
  parts.matrixCanvas.addEventListener("click", (event) => {
    const at = matrixCell(event);
    if (at) set({ token: at[0] });
  });

  // A picked query token: its row over the image (the patches' share, scaled by its largest as every map
  // is) and its top keys' scores before the softmax beside the probabilities after it.
  function paintToken(d, view, m) {
    const p = d.payload, token = view.token;
    const picked = token !== null && token !== undefined && token < m.count;
    parts.row.hidden = parts.scores.hidden = parts.note.hidden = !picked;
    parts.rowCaption.textContent = picked ? tr("explorer.tokens.row_caption", { token: tokenName(d, token) })
      : tr("explorer.tokens.pick");
    if (!picked) return;
    const t = p.prefix.length, row = m.rows[token], n = m.count - t, values = new Float32Array(n);
    let peak = 0;
    for (let j = 0; j < n; j++) peak = Math.max(peak, row[t + j]);
    for (let j = 0; j < n; j++) values[j] = peak > 0 ? Math.round(row[t + j] / peak * 65535) / 65535 : 0;
    const label = T.tokenLabel(p.prefix, p.grid, token), patch = label.kind === "patch" ? [label.row - 1, label.col - 1] : null;
    V.paintMap(parts.row, d, { ...view, grid: false, patch }, luts, { values, peak });
    const scores = m.source.scores, start = m.source.offset + token * m.count;
    parts.scores.innerHTML = `<thead><tr><th>${tr("explorer.tokens.key")}</th><th>${tr("explorer.tokens.score")}</th>` +
      `<th>${tr("explorer.tokens.probability")}</th></tr></thead><tbody>` +
      T.topKeys(row, 8).map((j) => `<tr data-key="${j}"><td>${tokenName(d, j)}</td><td>${scores[start + j].toFixed(2)}</td>` +
        `<td>${percent(row[j])}</td></tr>`).join("") + "</tbody>";
    parts.note.textContent = tr("explorer.tokens.scores_note", { d: p.tokens.head_dim, count: m.count });
  }

  for (const button of parts.modes) button.addEventListener("click", () => set({ mode: button.dataset.mode }));
  new ResizeObserver(() => { if (shown && shown.view.mode && shown.view.mode !== "map") paint(shown.d, shown.view); })
    .observe(element);

  // After every paint of the explorer: show the view's mode, and draw it when it is one of these two.
  function paint(d, view) {
    const mode = view.mode || "map";
    shown = { d, view: { ...view } };
    if (d.payload.tokens && d.payload.tokens.scores && !d.tokenScores) decodeScores(d);  // ready before it is asked
    for (const button of parts.modes) button.setAttribute("aria-pressed", String(button.dataset.mode === mode));
    parts.pictures.hidden = mode !== "map";
    parts.model.hidden = mode !== "model";
    parts.matrix.hidden = mode !== "matrix";
    if (mode === "model") paintModel(d, view);
    else if (mode === "matrix") paintMatrix(d, view);
  }
  return { paint };
}
