// The model view's and the token matrix's pure functions (no DOM, no canvas): which token a matrix row is,
// a row's softmax, where a tile or a cell lies. Loaded into the page's <head> after painter_core.js (it sets
// window.vitdemo.tokens); under node (tests/js/tokens_core.test.js) it is module.exports. Indices here are
// 0-based as in the bundle; what the page shows counts from 1 (`tokenLabel`).
(function (root, factory) {
  const tokens = factory();
  if (typeof module === "object" && module.exports) module.exports = tokens;
  else root.vitdemo = Object.assign(root.vitdemo || {}, { tokens });
})(typeof self !== "undefined" ? self : this, () => {
  "use strict";

  // What token `index` of a bundle is, counted from 1 for the page: {kind, number, row, col}. The prefix
  // tokens come first (payload.prefix: "class", "distillation", "register"...), numbered within their kind;
  // then the patches row by row, numbered from 1 with their grid row and column from 1.
  function tokenLabel(prefix, grid, index) {
    if (index < prefix.length) {
      const kind = prefix[index], number = prefix.slice(0, index + 1).filter((k) => k === kind).length;
      return { kind, number, row: null, col: null };
    }
    const patch = index - prefix.length, cols = grid[1];
    return { kind: "patch", number: patch + 1, row: Math.floor(patch / cols) + 1, col: (patch % cols) + 1 };
  }

  // The softmax of row `query` of a (T, T) score matrix stored flat from `offset`: the attention the model
  // computes from those scores (max subtracted first, as every stable softmax does), in float64.
  function softmaxRow(scores, offset, count, query) {
    const start = offset + query * count, out = new Float64Array(count);
    let peak = -Infinity, total = 0;
    for (let j = 0; j < count; j++) peak = Math.max(peak, scores[start + j]);
    for (let j = 0; j < count; j++) { out[j] = Math.exp(scores[start + j] - peak); total += out[j]; }
    for (let j = 0; j < count; j++) out[j] /= total;
    return out;
  }

  // Colour indices of a row-by-row matrix (count × count), each row scaled by its own maximum as every map
  // of the page is: round(255 · p / max of its row).
  function rowIndices(rows, count) {
    const out = new Uint8Array(count * count);
    for (let i = 0; i < count; i++) {
      const row = rows[i];
      let peak = 0;
      for (let j = 0; j < count; j++) peak = Math.max(peak, row[j]);
      for (let j = 0; j < count; j++) out[i * count + j] = peak > 0 ? Math.round(255 * row[j] / peak) : 0;
    }
    return out;
  }

  // The `k` keys a query attends to most, most first (ties: the earlier token first).
  function topKeys(probabilities, k) {
    return Array.from(probabilities.keys()).sort((a, b) => probabilities[b] - probabilities[a] || a - b).slice(0, k);
  }

  // The 0-based head a view's head setting names (its place among the single heads of payload.head_order),
  // or -1 for a fusion (mean, max, min), which has no scores of its own.
  function headIndex(payload, head, fusions) {
    const singles = payload.head_order.map(String).filter((h) => !fusions.includes(h));
    return singles.indexOf(String(head));
  }

  // The model view's layout in CSS px: one tile per layer (rows) and head (columns) under a row of head
  // numbers and beside a column of layer numbers; tiles as wide as fit in `width` and, all layers, in
  // `tall` (so the whole model shows on one screen), at most `most` px.
  function modelLayout(width, layers, heads, aspect, tall = Infinity, most = 120) {
    const left = 26, top = 16, gap = 3;
    const byHeight = Math.floor(((tall - top) / layers - gap) / aspect);
    const tile = Math.max(8, Math.min(most, byHeight, Math.floor((width - left - gap * heads) / heads)));
    const tileHeight = Math.max(8, Math.round(tile * aspect));
    return { left, top, gap, tile, tileHeight, width: left + heads * (tile + gap),
             height: top + layers * (tileHeight + gap), layers, heads };
  }
  // The tile under (x, y) CSS px of the model view: [layer index, head index] (0-based), or null off the tiles.
  function tileAt(layout, x, y) {
    const c = Math.floor((x - layout.left) / (layout.tile + layout.gap));
    const r = Math.floor((y - layout.top) / (layout.tileHeight + layout.gap));
    if (c < 0 || r < 0 || c >= layout.heads || r >= layout.layers) return null;
    const inside = x - layout.left - c * (layout.tile + layout.gap) < layout.tile
      && y - layout.top - r * (layout.tileHeight + layout.gap) < layout.tileHeight;
    return inside ? [r, c] : null;
  }

  // The matrix cell under a point at fractions (fx, fy) of the cells' square: [query, key], or null outside.
  function cellAt(count, fx, fy) {
    if (fx < 0 || fy < 0 || fx >= 1 || fy >= 1) return null;
    return [Math.floor(fy * count), Math.floor(fx * count)];
  }

  return { tokenLabel, softmaxRow, rowIndices, topKeys, headIndex, modelLayout, tileAt, cellAt };
});
