// The explorer's painter: one analysis bundle (vitdemo/explain/payload.py) in, canvases out, no request.
// Loaded once into the page's <head>; the explorer, the per-head gallery and the patch-size comparison
// (explorer.js, gallery.js) all draw with it, so the three always agree with each other and, pixel for
// pixel, with the server's renderer (vitdemo/explain/render.py): same colormap tables, same nearest
// upscaling, same bilinear "smooth" interpolation, same blend (PIL's Image.blend truncates).
// The pure half (what a view means, colour indices, file names) is painter_core.js, loaded before this.
(() => {
  if (window.vitdemo.bus) return;
  const core = window.vitdemo.core;
  const MARK = Object.freeze([0, 255, 255]);  // a clicked patch's outline
  const OUTLIER = Object.freeze([255, 40, 40]);  // a far-out token norm's
  const bus = new EventTarget(); // "view": the explorer's view changed; "payload": a new analysis is shown

  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  async function inflate(b64) {
    const stream = new Blob([bytes(b64)]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }
  // A server function's answer, or its refusal ({error: sentence}) as an exception with that sentence.
  function answer(result) {
    if (result && result.error) throw new Error(result.error);
    return result;
  }
  function picture(src) {
    return new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => resolve(img);
      img.onerror = reject;
      img.src = src;
    });
  }

  // Decode a payload once: its arrays, and the upscaled view's pixels every paint starts from. The picture
  // and every array are decoded at once, not one after another: each inflate is a stream that yields to
  // the page, which after a new analysis has Gradio's follow-up events to run too (BENCHMARKS §15).
  async function decode(payload) {
    const [w, h] = payload.size, s = payload.scale;
    const entries = (o) => Object.entries(o || {});
    const maps = {}, classes = {};  // classes: {method: {class label: stack}}, a class method's maps per class
    for (const { name } of payload.schema.methods) classes[name] = {};
    for (const [method] of entries(payload.maps)) maps[method] = null;  // keys in the bundle's order
    const [img, patches, lenses, logit] = await Promise.all([
      picture(payload.image),
      payload.patches ? stack(payload.patches, 255) : null,
      payload.lenses ? decodeLenses(payload.lenses) : null,
      window.vitdemo.lens.decode(payload.logit_lens, payload.depth),  // explorer_lens.js
      ...entries(payload.maps).map(async ([method, packed]) => { maps[method] = await stack(packed, 65535); }),
      ...entries(payload.classes).flatMap(([method, targets]) => entries(targets).map(async ([target, packed]) => {
        classes[method][target] = await stack(packed, 65535);
      })),
    ]);
    const canvas = document.createElement("canvas");
    canvas.width = w * s; canvas.height = h * s;
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(img, 0, 0, w * s, h * s);
    return { payload, base: ctx.getImageData(0, 0, w * s, h * s), maps, classes, patches, lenses, logit, rows: {} };
  }
  async function decodeLenses(l) {
    const [norms, prefix, rgb, foreground, similarity] = await Promise.all([inflate(l.norms),
      l.prefix ? stack(l.prefix, 65535) : null, inflate(l.rgb), inflate(l.foreground),
      l.similarity ? stack(l.similarity, 255) : null]);
    return { norms: new Float32Array(norms.buffer), outliers: l.outliers, prefix, rgb, foreground, similarity };
  }
  async function stack(packed, levels) {
    answer(packed);
    const [raw, max] = await Promise.all([inflate(packed.q),
      typeof packed.max === "number" ? null : inflate(packed.max)]);
    const q = levels === 255 ? raw : new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2);
    return { q, max: max ? new Float32Array(max.buffer) : new Float32Array([packed.max]), levels };
  }

  // The map a view asks for, as {values: Float32Array in [0, 1] (map / its max), peak: the max}, or null
  // when it must be fetched first (relevance of a class not yet computed, a clicked row of a large grid).
  function currentMap(d, view) {
    const [rows, cols] = d.payload.grid, n = rows * cols, layer = core.indexOf(view.layer);
    if (view.method === "norms") return normsMap(d, layer);  // the lenses (core.isLens)
    if (view.method === "features") return featuresMap(d, view);
    if (view.method === window.vitdemo.lens.NAME) return window.vitdemo.lens.map(d, view);
    if (view.query > 0 && !view.patch) return prefixMap(d, view);
    if (view.patch) {
      const [r, c] = view.patch, index = r * cols + c;
      if (d.patches) {
        const offset = (layer * n + index) * n;
        return scaled(d.patches.q.subarray(offset, offset + n), d.patches.max[layer * n + index], 255);
      }
      const row = d.rows[`${layer}/${index}`];
      return row ? scaled(row.q, row.max[0], 255) : null;
    }
    const source = core.needsClass(d.payload.schema, view.method)
      ? (d.classes[view.method] || {})[view.target || d.payload.top[0][0]] : d.maps[view.method];
    if (!source) return null;
    const { at, offset } = core.mapSlot(d.payload, view.method, view.layer, view.head);
    return scaled(source.q.subarray(offset, offset + n), source.max[at], source.levels);
  }
  // Token norms of one layer over the patches (scaled by their max); the prefix tokens' are listed apart.
  function normsMap(d, layer) {
    const { payload, lenses } = d, t = payload.prefix.length, n = payload.grid[0] * payload.grid[1];
    const row = lenses.norms.subarray(layer * (t + n) + t, (layer + 1) * (t + n));
    let peak = 0;
    for (const v of row) peak = Math.max(peak, v);
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = peak > 0 ? Math.round(row[i] / peak * 65535) / 65535 : 0;
    return { values, peak, norms: row, outliers: new Set(lenses.outliers[layer].map((i) => i - t)) };
  }
  // Features: the PCA colours of every patch, or a clicked patch's similarity to every patch.
  function featuresMap(d, view) {
    const { lenses, payload } = d, cols = payload.grid[1], n = payload.grid[0] * cols;
    if (!view.patch) return { rgb: lenses.rgb, values: new Float32Array(n), peak: 1, foreground: lenses.foreground };
    const index = view.patch[0] * cols + view.patch[1];
    if (lenses.similarity) {
      const offset = index * n;
      return scaled(lenses.similarity.q.subarray(offset, offset + n), lenses.similarity.max[index], 255);
    }
    const row = d.rows[`similarity/${index}`];
    return row ? scaled(row.q, row.max[0], 255) : null;
  }
  // Where a prefix token other than the class token (distillation, a register) attends.
  function prefixMap(d, view) {
    const { payload, lenses } = d, n = payload.grid[0] * payload.grid[1], others = payload.prefix.length - 1;
    if (!lenses || !lenses.prefix || view.query > others) return null;
    const heads = payload.head_order.length, h = Math.max(0, payload.head_order.map(String).indexOf(String(view.head)));
    const at = ((core.indexOf(view.layer) * others + (view.query - 1)) * heads) + h;
    return scaled(lenses.prefix.q.subarray(at * n, at * n + n), lenses.prefix.max[at], 65535);
  }
  const scaled = core.scaled;

  // Paint the map over the view into `canvas` (full resolution; CSS scales it for display): the view's, or
  // `map` ({values, peak}) when given (a token's row of the token matrix).
  function paintMap(canvas, d, view, luts, map = currentMap(d, view)) {
    if (!map) return null;
    const { base } = d, lut = luts[view.cmap] || luts.inferno, alpha = view.opacity;
    canvas.width = base.width; canvas.height = base.height;
    const ctx = canvas.getContext("2d");
    const image = ctx.createImageData(base.width, base.height);
    const src = base.data, dst = image.data;
    if (map.rgb) {
      paintColours(d, map, alpha, src, dst);
    } else {
      const index = core.heatIndices(d.payload, map.values, view.smooth);
      for (let p = 0, i = 0; p < index.length; p++, i += 4) {
        const k = index[p] * 3;
        for (let ch = 0; ch < 3; ch++) {
          const a = src[i + ch], value = a + alpha * (lut[k + ch] - a);
          dst[i + ch] = value <= 0 ? 0 : value >= 255 ? 255 : Math.floor(value);
        }
        dst[i + 3] = 255;
      }
    }
    ctx.putImageData(image, 0, 0);
    canvas.style.width = "";
    // With grid lines the map is redrawn in device pixels, as the patch grid is; without, it stays pixel for
    // pixel the server's picture (render.overlay).
    if (view.grid) inDevicePixels(canvas, d, copyOf(canvas));
    const cols = d.payload.grid[1];
    if (map.outliers) for (const index of map.outliers) mark(ctx, d, [Math.floor(index / cols), index % cols], OUTLIER);
    if (view.patch) mark(ctx, d, view.patch, MARK);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    return map;
  }
  function copyOf(canvas) {
    const copy = document.createElement("canvas");
    copy.width = canvas.width; copy.height = canvas.height;
    copy.getContext("2d").drawImage(canvas, 0, 0);
    return copy;
  }

  // Each patch in its PCA colour over the view; background patches (first component's sign) dimmed.
  function paintColours(d, map, alpha, src, dst) {
    const { payload } = d, [rows, cols] = payload.grid, cell = payload.patch * payload.scale;
    const width = payload.size[0] * payload.scale;
    for (let i = 0, p = 0; p < src.length / 4; p++, i += 4) {
      const x = p % width, y = Math.floor(p / width), r = Math.floor(y / cell), c = Math.floor(x / cell);
      const inside = r < rows && c < cols, index = r * cols + c;
      for (let ch = 0; ch < 3; ch++) {
        const colour = inside ? map.rgb[index * 3 + ch] * (map.foreground[index] ? 1 : 0.35) : 0;
        dst[i + ch] = Math.floor(src[i + ch] + alpha * (colour - src[i + ch]));
      }
      dst[i + 3] = 255;
    }
  }

  // The patches the model sees: the view with a line on every patch edge (render.patch_grid), and on
  // request each token's index and the row-by-row order the tokens follow. Drawn in device pixels (the
  // canvas as wide as its box times devicePixelRatio, the lines on whole pixels: core.gridLines), so every
  // line shows at any zoom; the view is upscaled nearest, as on the server.
  function paintGrid(canvas, d, view) {
    const { payload } = d, [rows, cols] = payload.grid, cell = payload.patch * payload.scale;
    const ctx = inDevicePixels(canvas, d, baseCanvas(d));
    if (view.order) {
      ctx.strokeStyle = "rgba(255, 200, 0, 0.9)"; ctx.lineWidth = Math.max(1, payload.scale);
      ctx.beginPath();
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
        const x = c * cell + cell / 2, y = r * cell + cell / 2;
        (r === 0 && c === 0) ? ctx.moveTo(x, y) : ctx.lineTo(x, y);
      }
      ctx.stroke();
    }
    if (view.indices) {
      const size = Math.max(9, Math.min(18, Math.floor(cell / 3)));
      ctx.font = `${size}px sans-serif`; ctx.textAlign = "center"; ctx.textBaseline = "middle";
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
        const text = String(payload.prefix.length + r * cols + c), x = c * cell + cell / 2, y = r * cell + cell / 2;
        ctx.fillStyle = "rgba(0, 0, 0, 0.65)";
        ctx.fillRect(x - ctx.measureText(text).width / 2 - 2, y - size / 2 - 1, ctx.measureText(text).width + 4, size + 2);
        ctx.fillStyle = "#fff"; ctx.fillText(text, x, y);
      }
    }
    if (view.patch) mark(ctx, d, view.patch, MARK);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
  }
  // The view's pixels as a canvas (drawImage scales a canvas, not ImageData), made once per decoded bundle.
  function baseCanvas(d) {
    if (!d.baseCanvas) {
      d.baseCanvas = document.createElement("canvas");
      d.baseCanvas.width = d.base.width; d.baseCanvas.height = d.base.height;
      d.baseCanvas.getContext("2d").putImageData(d.base, 0, 0);
    }
    return d.baseCanvas;
  }

  // Draw `picture` (the view's pixels) into `canvas` sized in device pixels for the box it is shown in,
  // nearest, with a white line on every patch edge on whole device pixels (core.gridLines); the context is
  // left scaled so that what follows draws in the view's pixels.
  function inDevicePixels(canvas, d, picture) {
    const { base, payload } = d, [rows, cols] = payload.grid, cell = payload.patch * payload.scale;
    const ratio = window.devicePixelRatio || 1, box = canvas.parentElement ? canvas.parentElement.clientWidth : 0;
    const size = core.deviceSize(box || base.width / ratio, ratio, base.height / base.width);
    canvas.width = size.width; canvas.height = size.height;
    canvas.style.width = `${size.css}px`;
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(picture, 0, 0, size.width, size.height);
    ctx.fillStyle = "rgb(255, 255, 255)";
    const width = core.lineWidth(ratio);
    for (const x of core.gridLines(cols, size.css, ratio, cols * cell / base.width)) ctx.fillRect(x, 0, width, size.height);
    for (const y of core.gridLines(rows, size.height / ratio, ratio, rows * cell / base.height)) {
      ctx.fillRect(0, y, size.width, width);
    }
    const k = size.width / base.width;
    ctx.setTransform(k, 0, 0, k, 0, 0);
    return ctx;
  }

  function mark(ctx, d, [r, c], colour) {
    const { payload } = d, cell = payload.patch * payload.scale, w = Math.max(2, payload.scale);
    ctx.fillStyle = `rgb(${colour.join(",")})`;
    const x = c * cell, y = r * cell;
    ctx.fillRect(x, y, cell, w); ctx.fillRect(x, y + cell - w, cell, w);
    ctx.fillRect(x, y, w, cell); ctx.fillRect(x + cell - w, y, w, cell);
  }

  // The patch under a pointer event on a canvas showing the (upscaled) view.
  function patchAt(canvas, d, event) {
    const box = canvas.getBoundingClientRect();
    return core.patchUnder(d.payload, (event.clientX - box.left) / box.width, (event.clientY - box.top) / box.height);
  }

  // A copy of a decoded bundle drawn at a smaller upscale (at least `side` px on the short side, as the
  // server's gallery pictures): thumbnails cost a fraction of a full paint.
  function small(d, side = 160) {
    if (d.small && d.small.side === side) return d.small.decoded;
    const { payload } = d, [w, h] = payload.size, scale = Math.max(1, Math.ceil(side / Math.min(w, h)));
    const canvas = document.createElement("canvas");
    canvas.width = w * scale; canvas.height = h * scale;
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(baseCanvas(d), 0, 0, w * scale, h * scale);
    const decoded = { ...d, payload: { ...payload, scale }, base: ctx.getImageData(0, 0, w * scale, h * scale),
                      baseCanvas: null };
    d.small = { side, decoded };
    return decoded;
  }

  function lutsFrom(tables) {
    const out = {};
    for (const [name, b64] of Object.entries(tables)) out[name] = bytes(b64);
    return out;
  }

  Object.assign(window.vitdemo, { bus, answer, inflate, decode, paintMap, paintGrid, patchAt, currentMap, lutsFrom, baseCanvas,
                                  small, stack, view: null, decoded: null });
})();
