// The explorer's pure functions: what a view means and what it draws, without the page (no DOM, no canvas).
// One file for the browser and for node: in the page (loaded into the <head> before explorer_painter.js) it
// sets window.vitdemo.core; under node (tests/js/*.test.js, `node --test`) it is module.exports.
// What a bundle says of its methods and heads comes from the bundle (payload.schema, made by
// vitdemo/explain/payload.py from the method table, vitdemo/methods.py): nothing here names a method.
(function (root, factory) {
  const core = factory();
  if (typeof module === "object" && module.exports) module.exports = core;
  else root.vitdemo = Object.assign(root.vitdemo || {}, { core });
})(typeof self !== "undefined" ? self : this, () => {
  "use strict";

  // -- the methods' table (payload.schema) ----------------------------------------------------------------
  // The row of `name`, or null for a view that is no method of the table (the lenses: token norms, features).
  function methodOf(schema, name) {
    return schema.methods.find((m) => m.name === name) || null;
  }
  const flag = (schema, name, key) => !!(methodOf(schema, name) || {})[key];
  const needsClass = (schema, name) => flag(schema, name, "needs_class");
  const chainsLayers = (schema, name) => flag(schema, name, "chains_layers");
  const discards = (schema, name) => flag(schema, name, "discards");
  // The first row is the default method, and the one a prefix token's (or a clicked patch's) attention belongs to.
  const baseMethod = (schema) => schema.methods[0].name;
  const isFusion = (schema, head) => schema.fusions.includes(String(head));
  // The string keys naming a view: the table's for a method, `explorer.method.NAME` for a lens or "random".
  const labelKey = (schema, name) => (methodOf(schema, name) || { label_key: `explorer.method.${name}` }).label_key;
  const titleKey = (schema, name) => (methodOf(schema, name) || { title_key: `explorer.title.${name}` }).title_key;
  // The caption's sentence for a method's map: a class's, one layer's, or the layers' up to this one.
  function captionKey(schema, name) {
    if (needsClass(schema, name)) return "explorer.caption.class";
    return chainsLayers(schema, name) ? "explorer.caption.upto" : "explorer.caption.attention";
  }

  // -- where a map sits in a bundle's stacks ----------------------------------------------------------------
  // The head settings of a method's stack (the fusions alone for a method that chains the layers).
  function settings(payload, method) {
    return chainsLayers(payload.schema, method) ? payload.schema.fusions : payload.head_order.map(String);
  }
  // {at: the map's index in the stack's maxima, offset: its first value in the stack}, for layer from 1.
  function mapSlot(payload, method, layer, head) {
    const n = payload.grid[0] * payload.grid[1], heads = settings(payload, method);
    const at = indexOf(layer) * heads.length + Math.max(0, heads.indexOf(String(head)));
    return { at, offset: at * n, n };
  }
  // Quantised values (0..levels) as a map in [0, 1] of its peak.
  function scaled(q, peak, levels) {
    const values = new Float32Array(q.length);
    for (let i = 0; i < q.length; i++) values[i] = q[i] / levels;
    return { values, peak };
  }

  // -- pixels ------------------------------------------------------------------------------------------------
  // The heat colour index of every display pixel, as render.heat_image computes it (nearest, or PIL's
  // bilinear upscale for `smooth`); beyond the last whole patch, 0. `geometry`: {grid, patch, scale, size}.
  function heatIndices(geometry, values, smooth) {
    const [rows, cols] = geometry.grid, cell = geometry.patch * geometry.scale;
    const width = geometry.size[0] * geometry.scale, height = geometry.size[1] * geometry.scale;
    const out = new Uint8Array(width * height);
    const h = Math.min(height, rows * cell), w = Math.min(width, cols * cell);
    if (!smooth) {
      for (let y = 0; y < h; y++) {
        const r = Math.floor(y / cell);
        for (let x = 0; x < w; x++) out[y * width + x] = Math.round(values[r * cols + Math.floor(x / cell)] * 255);
      }
      return out;
    }
    // Sample centres (x + 0.5) / cell - 0.5 between cell centres, clamped at the edges.
    const taps = (i, n) => {
      const c = (i + 0.5) / cell - 0.5, lo = Math.floor(c), t = c - lo;
      return [Math.min(Math.max(lo, 0), n - 1), Math.min(Math.max(lo + 1, 0), n - 1), t];
    };
    const xs = Array.from({ length: w }, (_, x) => taps(x, cols));
    for (let y = 0; y < h; y++) {
      const [r0, r1, ty] = taps(y, rows);
      for (let x = 0; x < w; x++) {
        const [c0, c1, tx] = xs[x];
        const top = values[r0 * cols + c0] * (1 - tx) + values[r0 * cols + c1] * tx;
        const bottom = values[r1 * cols + c0] * (1 - tx) + values[r1 * cols + c1] * tx;
        out[y * width + x] = Math.min(255, Math.max(0, Math.round((top * (1 - ty) + bottom * ty) * 255)));
      }
    }
    return out;
  }
  // The (row, col) under a point at fractions (fx, fy) of a picture of the model's view, clamped to the grid.
  function patchUnder(payload, fx, fy) {
    const [rows, cols] = payload.grid;
    const x = fx * payload.size[0], y = fy * payload.size[1];
    return [Math.min(Math.max(Math.floor(y / payload.patch), 0), rows - 1),
            Math.min(Math.max(Math.floor(x / payload.patch), 0), cols - 1)];
  }

  // -- device pixels: a grid that shows every line at any devicePixelRatio ----------------------------------
  // A canvas shown `css` CSS px wide at `ratio` device pixels per CSS px, for a picture of aspect
  // height / width: its backing store in whole device pixels, and the CSS width that shows each of them as one
  // screen pixel. A canvas scaled by CSS (384 px shown in 325) resamples, and a one-pixel line falls between.
  function deviceSize(css, ratio, aspect) {
    const width = Math.max(1, Math.floor(css * ratio + 1e-6));  // 1e-6: 650 / 2 * 2 stays 650
    return { width, height: Math.max(1, Math.round(width * aspect)), css: width / ratio };
  }
  // A grid line's width in device pixels: one CSS pixel, rounded down to whole device pixels.
  const lineWidth = (ratio) => Math.max(1, Math.floor(ratio));
  // Where the n + 1 lines of n equal cells lie over a canvas `css` CSS px wide at `ratio` (the cells covering
  // the fraction `covered` of it: the view beyond the last whole patch has none): the first device pixel of
  // each line, a whole number, every line inside the canvas (the last one against its far edge).
  function gridLines(n, css, ratio, covered = 1) {
    const size = deviceSize(css, ratio, 1).width, span = size * covered, last = size - lineWidth(ratio);
    return Array.from({ length: n + 1 }, (_, i) => Math.max(0, Math.min(Math.round(i * span / n), last)));
  }

  // -- the view ------------------------------------------------------------------------------------------------
  // Everything the reader chose; method null until a bundle names its default. `mode`: what the explorer shows
  // ("map", "model": every layer × head, "matrix": token × token, explorer_tokens.js), `token`: the matrix's
  // picked query token (0-based, null for none).
  function initialView() {
    return { method: null, layer: 1, head: "mean", target: "", cmap: "inferno", opacity: 0.6, smooth: false,
             grid: false, indices: false, order: false, patch: null, query: 0, mode: "map", token: null };
  }
  // The view after picking `method`: a chained method has fused heads only, and a prefix token's attention
  // belongs to the base method.
  function withMethod(view, schema, method) {
    const head = chainsLayers(schema, method) && !isFusion(schema, view.head) ? "mean" : view.head;
    return { ...view, method, head, patch: null, query: method === baseMethod(schema) ? view.query : 0 };
  }
  // The view after a new bundle: the last layer for a new model, no clicked patch, the top-1 class, and the
  // base method where the bundle cannot show the one chosen (a class method without a classifier).
  function forBundle(view, payload, sameModel) {
    const schema = payload.schema, next = { ...view };
    if (!sameModel) Object.assign(next, { layer: payload.depth, head: "mean" });
    Object.assign(next, { patch: null, target: "", query: Math.min(view.query, payload.prefix.length - 1),
                          token: null });
    if (!next.method || !methodOf(schema, next.method) && !isLens(next.method)
        || needsClass(schema, next.method) && !payload.classifier
        || next.method === "logit-lens" && !payload.logit_lens) next.method = baseMethod(schema);
    next.layer = Math.min(next.layer, payload.depth);
    return next;
  }
  const LENSES = Object.freeze(["norms", "features", "logit-lens"]);  // views of tokens, not methods: the explorer's own
  const isLens = (name) => LENSES.includes(name);
  // The head a view's picture is drawn with: a clicked patch and the lenses show the heads' mean.
  function drawnHead(view) {
    return view.patch || isLens(view.method) ? "mean" : view.head;
  }

  // -- counting: what a person reads ----------------------------------------------------------------------------
  // The view holds the bundle's indices (rows, columns and heads from 0, as head_order and the stacks have them;
  // the layer, as the slider shows it, from 1). People read rows, columns, heads and layers from 1: this is the
  // one place the page turns an index into the number it shows (vitdemo/numbering.py `shown`, the server's).
  const counted = (index) => index + 1;
  // The bundle's (and the server functions') 0-based index of a layer the slider counts from 1.
  const indexOf = (number) => number - 1;
  // A head as people count it: a fusion ("mean") stays its name, head index 0 is "head 1".
  const countedHead = (head) => (typeof head === "number" ? counted(head) : head);
  // The view as the page counts it, for #explorer's data-view and the figure it asks the server for
  // (validation.View): layer and head from 1; a clicked patch stays the grid's [row, col] from 0.
  const countedView = (view) => ({ ...view, head: countedHead(view.head) });

  // -- file names: the rule of vitdemo/app/views.py `file_name` (cases: tests/js/file_names.json) -------------
  // `view` as the page counts it (countedView): its layer and head from 1, its patch the grid's from 0.
  function fileName(stem, kind, view, schema) {
    if (kind === "grid") return `${stem}_grid`;
    const head = String(view.head) === "mean" ? "" : `_head${view.head}`;
    if (view.patch) return `${stem}_patch${counted(view.patch[0])}-${counted(view.patch[1])}_layer${view.layer}${head}`;
    const target = view.target && needsClass(schema, view.method) ? `_${view.target}` : "";
    return `${stem}_${view.method}${target}_layer${view.layer}${head}`;
  }
  // A safe file name as the server's outputs.download_name makes it: letters, digits, "-", "_", "." only,
  // at most 80 characters, no leading or trailing "." or "_".
  function safeName(name, suffix) {
    const stem = String(name || "picture").trim().replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 80)
      .replace(/^[._]+|[._]+$/g, "");
    return (stem || "picture") + suffix;
  }

  return { methodOf, needsClass, chainsLayers, discards, baseMethod, isFusion, labelKey, titleKey, captionKey,
           settings, mapSlot, scaled, heatIndices, patchUnder, deviceSize, lineWidth, gridLines, initialView,
           withMethod, forBundle, isLens, drawnHead, counted, indexOf, countedHead, countedView, fileName, safeName };
});
