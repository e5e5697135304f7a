// Unit tests of the model view's and token matrix's pure functions (vitdemo/app/tokens_core.js), run by
// `node --test` from the repository root (and tests/test_js.py). Expected values worked out by hand.
const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const tokens = require(path.join(__dirname, "..", "..", "vitdemo", "app", "tokens_core.js"));

const close = (a, b, eps = 1e-12) => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);

test("tokens are named as the page counts them: prefix kinds numbered within their kind, patches from 1", () => {
  const prefix = ["class", "distillation", "register", "register"], grid = [2, 3];
  assert.deepEqual(tokens.tokenLabel(prefix, grid, 0), { kind: "class", number: 1, row: null, col: null });
  assert.deepEqual(tokens.tokenLabel(prefix, grid, 3), { kind: "register", number: 2, row: null, col: null });
  // token 4 is the first patch: patch 1, row 1, col 1; token 9 the sixth: 5 = 1·3 + 2 → row 2, col 3.
  assert.deepEqual(tokens.tokenLabel(prefix, grid, 4), { kind: "patch", number: 1, row: 1, col: 1 });
  assert.deepEqual(tokens.tokenLabel(prefix, grid, 9), { kind: "patch", number: 6, row: 2, col: 3 });
});

test("a row's softmax is the attention: exp(s) / Σ exp(s), whatever the row's offset", () => {
  // Row 1 of a 3×3 matrix stored after 2 values of padding: scores [0, ln 2, ln 5] → 1/8, 2/8, 5/8.
  const flat = Float32Array.from([9, 9, 7, 7, 7, 0, Math.log(2), Math.log(5), 7, 7, 7]);
  const p = tokens.softmaxRow(flat, 2, 3, 1);
  close(p[0], 1 / 8, 1e-7); close(p[1], 2 / 8, 1e-7); close(p[2], 5 / 8, 1e-7);
  // Large scores do not overflow: [1000, 1000] → ½, ½.
  const big = tokens.softmaxRow(Float32Array.from([1000, 1000, 0, 0]), 0, 2, 0);
  close(big[0], 0.5); close(big[1], 0.5);
});

test("matrix colours: each row scaled by its own maximum, round(255 p / max)", () => {
  // Row 0: [0.5, 0.25] → 255, 127.5 → 128; row 1: [0.1, 0.4] → 63.75 → 64, 255.
  const out = tokens.rowIndices([[0.5, 0.25], [0.1, 0.4]], 2);
  assert.deepEqual(Array.from(out), [255, 128, 64, 255]);
  assert.deepEqual(Array.from(tokens.rowIndices([[0, 0], [0, 1]], 2)), [0, 0, 0, 255]);
});

test("the keys a query attends to most, ties by token order", () => {
  assert.deepEqual(tokens.topKeys(Float64Array.from([0.1, 0.4, 0.1, 0.4]), 3), [1, 3, 0]);
});

test("a head setting's 0-based head: its place among the single heads; a fusion has none", () => {
  const payload = { head_order: ["mean", "max", "min", 0, 1, 2, 3] }, fusions = ["mean", "max", "min"];
  assert.equal(tokens.headIndex(payload, 2, fusions), 2);
  assert.equal(tokens.headIndex(payload, "3", fusions), 3);
  assert.equal(tokens.headIndex(payload, "max", fusions), -1);
});

test("the model view's tiles: as many as layers × heads, the tile under a point, gaps and margins off", () => {
  // width 400, 4 heads: (400 - 26 - 3·4) / 4 = 90.5 → 90 px tiles; square pictures; 6 layers.
  const layout = tokens.modelLayout(400, 6, 4, 1);
  assert.equal(layout.tile, 90); assert.equal(layout.tileHeight, 90);
  assert.equal(layout.width, 26 + 4 * 93); assert.equal(layout.height, 16 + 6 * 93);
  // (26 + 93 + 10, 16 + 2·93 + 80): head 1 (0-based), layer 2; x in the gap after the first tile: none.
  assert.deepEqual(tokens.tileAt(layout, 129, 282), [2, 1]);
  assert.equal(tokens.tileAt(layout, 26 + 91, 20), null);
  assert.equal(tokens.tileAt(layout, 10, 20), null);
  assert.equal(tokens.tileAt(layout, 26 + 4 * 93 + 1, 20), null);
  // twelve heads on a phone: (360 - 26 - 36) / 12 = 24.8 → 24 px; never above `most`.
  assert.equal(tokens.modelLayout(360, 12, 12, 1).tile, 24);
  assert.equal(tokens.modelLayout(2000, 6, 4, 1).tile, 120);
  // all 6 layers within 520 px: (520 - 16) / 6 - 3 = 81 px; pictures twice as tall as wide: 40.5 → 40 px wide.
  assert.equal(tokens.modelLayout(2000, 6, 4, 1, 520).tile, 81);
  assert.equal(tokens.modelLayout(2000, 6, 4, 2, 520).tile, 40);
});

test("the matrix cell under a point: rows are queries, columns keys", () => {
  assert.deepEqual(tokens.cellAt(37, 0.999, 0), [0, 36]);
  assert.deepEqual(tokens.cellAt(37, 0.5, 0.03), [1, 18]);  // 0.03·37 = 1.11 → row 1; 18.5 → col 18
  assert.equal(tokens.cellAt(37, 1, 0.5), null);
  assert.equal(tokens.cellAt(37, -0.01, 0.5), null);
});

test("the view starts on the map, and a new bundle forgets the picked token but keeps the mode", () => {
  const core = require(path.join(__dirname, "..", "..", "vitdemo", "app", "painter_core.js"));
  const schema = { fusions: ["mean"], methods: [{ name: "attention" }] };
  const payload = { schema, depth: 6, heads: 4, prefix: ["class"], classifier: true };
  assert.equal(core.initialView().mode, "map");
  assert.equal(core.initialView().token, null);
  const next = core.forBundle({ ...core.initialView(), method: "attention", mode: "matrix", token: 9 }, payload, true);
  assert.equal(next.mode, "matrix");
  assert.equal(next.token, null);
});
