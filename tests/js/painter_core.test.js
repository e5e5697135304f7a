// Unit tests of the explorer's pure functions (vitdemo/app/painter_core.js), run by `node --test` from the
// repository root (and by tests/test_js.py). Expected values are worked out by hand in the comments.
const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const core = require(path.join(__dirname, "..", "..", "vitdemo", "app", "painter_core.js"));
const names = require(path.join(__dirname, "file_names.json"));

// A bundle's table as payload.schema sends it: the flags are what these tests are about, not the real table.
const SCHEMA = {
  fusions: ["mean", "max", "min"], discard_max: 0.95,
  methods: [
    { name: "attention", needs_class: false, chains_layers: false, discards: false, label_key: "explorer.method.attention", title_key: "explorer.title.attention" },
    { name: "rollout", needs_class: false, chains_layers: true, discards: true, label_key: "explorer.method.rollout", title_key: "explorer.title.rollout" },
    { name: "relevance", needs_class: true, chains_layers: true, discards: false, label_key: "explorer.method.relevance", title_key: "explorer.title.relevance" },
    { name: "legrad", needs_class: true, chains_layers: true, discards: false, label_key: "explorer.method.legrad", title_key: "explorer.title.legrad" },
  ],
};
const PAYLOAD = { schema: SCHEMA, grid: [2, 3], size: [48, 32], patch: 16, scale: 1, depth: 6, heads: 4,
                  head_order: ["mean", "max", "min", 0, 1, 2, 3], prefix: ["class", "register"], classifier: true };

test("map values become colour indices, nearest: each patch a block of round(255 v)", () => {
  // 2×2 grid, 1 px patches upscaled 2×: a 4×4 picture, each value a 2×2 block.
  const geometry = { grid: [2, 2], patch: 1, scale: 2, size: [2, 2] };
  const out = core.heatIndices(geometry, Float32Array.from([0, 1, 0.5, 0.25]), false);
  // 0.5 · 255 = 127.5 → 128 (Math.round), 0.25 · 255 = 63.75 → 64
  assert.deepEqual(Array.from(out), [0, 0, 255, 255, 0, 0, 255, 255, 128, 128, 64, 64, 128, 128, 64, 64]);
});

test("smooth colour indices interpolate between patch centres as PIL's bilinear upscale does", () => {
  // One row of two patches [0, 1], 2× wide: sample centres (x + 0.5)/2 - 0.5 = -0.25, 0.25, 0.75, 1.25,
  // clamped at the edges: 0, 0.25, 0.75, 1 → 0, 64 (63.75), 191 (191.25), 255.
  const geometry = { grid: [1, 2], patch: 1, scale: 2, size: [2, 1] };
  const out = core.heatIndices(geometry, Float32Array.from([0, 1]), true);
  assert.deepEqual(Array.from(out.subarray(0, 4)), [0, 64, 191, 255]);
  assert.deepEqual(Array.from(out.subarray(4, 8)), [0, 64, 191, 255]);
});

test("pixels beyond the last whole patch keep the colormap's bottom", () => {
  // A 3 px wide view of 2 px patches: one whole patch, then one pixel that belongs to none.
  const out = core.heatIndices({ grid: [1, 1], patch: 2, scale: 1, size: [3, 2] }, Float32Array.from([1]), false);
  assert.deepEqual(Array.from(out), [255, 255, 0, 255, 255, 0]);
});

test("the patch under a point, clamped to the grid", () => {
  // 48×32 px view, 16 px patches: 2 rows × 3 columns.
  assert.deepEqual(core.patchUnder(PAYLOAD, 0.99, 0.1), [0, 2]);   // x 47.5 → col 2, y 3.2 → row 0
  assert.deepEqual(core.patchUnder(PAYLOAD, 0.34, 0.51), [1, 1]);  // x 16.3 → col 1, y 16.3 → row 1
  assert.deepEqual(core.patchUnder(PAYLOAD, 1.2, -0.3), [0, 2]);   // outside: clamped
});

test("a map's place in its stack: every head for a one-layer method, the fusions alone for a chained one", () => {
  // attention, layer 2, head 1: settings mean, max, min, 0, 1, 2, 3 → index 4; at = 1·7 + 4 = 11; 6 values a map.
  assert.deepEqual(core.mapSlot(PAYLOAD, "attention", 2, 1), { at: 11, offset: 66, n: 6 });
  // rollout, layer 2, max: settings mean, max, min → at = 1·3 + 1 = 4.
  assert.deepEqual(core.mapSlot(PAYLOAD, "rollout", 2, "max"), { at: 4, offset: 24, n: 6 });
  assert.deepEqual(core.settings(PAYLOAD, "legrad"), ["mean", "max", "min"]);
  assert.deepEqual(core.scaled(Uint8Array.from([0, 51, 255]), 0.5, 255).values, Float32Array.from([0, 0.2, 1]));
});

test("picking a method: chained methods fall back to the heads' mean, prefix tokens stay with the base method", () => {
  const view = { ...core.initialView(), method: "attention", head: 2, query: 1, patch: [0, 1] };
  assert.deepEqual(core.withMethod(view, SCHEMA, "rollout"), { ...view, method: "rollout", head: "mean", query: 0, patch: null });
  assert.deepEqual(core.withMethod({ ...view, head: "max" }, SCHEMA, "legrad").head, "max");
  assert.deepEqual(core.withMethod(view, SCHEMA, "attention"), { ...view, patch: null });
  assert.equal(core.withMethod(view, SCHEMA, "norms").head, 2);  // a lens keeps the head (it ignores it)
});

test("a new bundle: the base method by default, the last layer of a new model, no class method without a classifier", () => {
  const first = core.forBundle(core.initialView(), PAYLOAD, false);
  assert.equal(first.method, "attention");
  assert.equal(first.layer, 6);
  const chosen = { ...first, method: "legrad", layer: 3, head: "max", patch: [1, 1], target: "circle", query: 1 };
  assert.deepEqual(core.forBundle(chosen, PAYLOAD, true),
    { ...chosen, patch: null, target: "" });
  const classless = core.forBundle(chosen, { ...PAYLOAD, classifier: false, depth: 2, prefix: ["class"] }, true);
  assert.deepEqual([classless.method, classless.layer, classless.query], ["attention", 2, 0]);
  assert.equal(core.forBundle({ ...chosen, method: "norms" }, PAYLOAD, true).method, "norms");
});

test("the strings a view is named and captioned with come from the table", () => {
  assert.equal(core.labelKey(SCHEMA, "rollout"), "explorer.method.rollout");
  assert.equal(core.labelKey(SCHEMA, "random"), "explorer.method.random");
  assert.equal(core.captionKey(SCHEMA, "relevance"), "explorer.caption.class");
  assert.equal(core.captionKey(SCHEMA, "rollout"), "explorer.caption.upto");
  assert.equal(core.captionKey(SCHEMA, "attention"), "explorer.caption.attention");
  assert.equal(core.drawnHead({ method: "attention", head: 3, patch: [0, 0] }), "mean");
  assert.equal(core.drawnHead({ method: "attention", head: 3, patch: null }), 3);
});

test("the page counts rows, columns and heads from 1; the view keeps the bundle's indices", () => {
  assert.deepEqual([0, 1, 5].map(core.counted), [1, 2, 6]);
  assert.deepEqual([0, 3, "mean", "max"].map(core.countedHead), [1, 4, "mean", "max"]);
  const view = { ...core.initialView(), method: "attention", layer: 1, head: 0, patch: [0, 0] };
  assert.deepEqual(core.countedView(view), { ...view, head: 1 }, "head 0 of the bundle is head 1; the patch stays");
  assert.equal(view.head, 0, "the view itself is untouched");
  assert.equal(core.fileName("star_p16", "map", core.countedView(view), SCHEMA), "star_p16_patch1-1_layer1_head1");
});

test("download names follow the server's rule (tests/js/file_names.json, checked in Python too)", () => {
  const schema = { ...SCHEMA, methods: SCHEMA.methods.map((m) => ({ ...m, needs_class: names.class_methods.includes(m.name) })) };
  for (const c of names.cases) {
    const view = { method: c.method, layer: c.layer, head: c.head, target: c.target, patch: c.patch };
    assert.equal(core.safeName(core.fileName(c.stem, c.kind, view, schema), ".png"), c.name, JSON.stringify(c));
  }
  assert.equal(core.safeName("", ".png"), "picture.png");
  assert.equal(core.safeName("x".repeat(100), ".png"), "x".repeat(80) + ".png");
});

test("a canvas is sized in whole device pixels and shown at exactly that many CSS px", () => {
  // 325.5 CSS px at 2×: 651 device px, shown 325.5 px wide; at 1× 325.7 px → 325 device px, half as high:
  // 162.5 → 163 rows.
  assert.deepEqual(core.deviceSize(325.5, 2, 1), { width: 651, height: 651, css: 325.5 });
  assert.deepEqual(core.deviceSize(325.7, 1, 0.5), { width: 325, height: 163, css: 325 });
  assert.deepEqual([1, 1.5, 2, 3].map(core.lineWidth), [1, 1, 2, 3]);
});

test("grid lines lie on whole device pixels at 1×, 2× and 3×, the last one inside the canvas", () => {
  // 6 cells (patch 16 on a 96 px view) over 325 CSS px: i · 325/6 rounded, the last at 325 − 1.
  assert.deepEqual(core.gridLines(6, 325, 1), [0, 54, 108, 163, 217, 271, 324]);
  // 2×: 650 device px, i · 108.33 rounded; the last line, 2 px wide, at 650 − 2.
  assert.deepEqual(core.gridLines(6, 325, 2), [0, 108, 217, 325, 433, 542, 648]);
  // 3×: 975 device px, i · 162.5 rounded half up; the last, 3 px wide, at 975 − 3.
  assert.deepEqual(core.gridLines(6, 325, 3), [0, 163, 325, 488, 650, 813, 972]);
  // 12 cells (patch 8): i · 27.083 rounded.
  assert.deepEqual(core.gridLines(12, 325, 1), [0, 27, 54, 81, 108, 135, 163, 190, 217, 244, 271, 298, 324]);
  // Cells covering 90% of the canvas (the view beyond the last whole patch): over 90 of 100 px.
  assert.deepEqual(core.gridLines(2, 100, 1, 0.9), [0, 45, 90]);
});

test("every grid line stays apart from its neighbours whenever a cell is wider than a line", () => {
  for (const ratio of [1, 1.25, 1.5, 2, 3]) for (const css of [150, 240.5, 325, 390]) for (let n = 1; n <= 28; n++) {
    const size = Math.floor(css * ratio), width = core.lineWidth(ratio), lines = core.gridLines(n, css, ratio);
    if (size / n < width + 1) continue;  // cells no wider than a line: nothing to tell apart
    assert.equal(lines.length, n + 1);
    lines.forEach((x, i) => {
      assert.ok(Number.isInteger(x) && x >= 0 && x + width <= size, `${n} cells, ${css} px at ${ratio}×: line ${i} at ${x}`);
      if (i) assert.ok(x - lines[i - 1] >= width + 1 || i === n && x - lines[i - 1] >= 1,
        `${n} cells, ${css} px at ${ratio}×: lines ${i - 1} and ${i} touch (${lines[i - 1]}, ${x})`);
    });
  }
});
