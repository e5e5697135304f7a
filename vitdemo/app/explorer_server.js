// The explorer's calls to the server (part of its js_on_load, before explorer.js): what a bundle lacks, asked of
// the component's server functions (vitdemo/app/explorer.py ExplorerServer) by the bundle's key. Each answers
// the decoded result or throws the server's one-sentence refusal; none touches the page.

// One method's maps of every layer and head setting: a class method's for `target`, a discarding one's at `discard`.
async function fetchMaps(d, method, target, discard) {
  return V.stack(await server.maps(d.payload.key, method, target || "", discard || 0), 65535);
}
// What one clicked patch attends to at `layer` (from 1), for a grid too large to send whole.
async function fetchPatchRow(d, layer, [r, c]) {
  return V.stack(await server.patch_row(d.payload.key, V.core.indexOf(layer), r, c), 255);
}
// One patch's feature similarity to every patch, for a grid too large to send whole.
async function fetchSimilarityRow(d, [r, c]) {
  return V.stack(await server.similarity_row(d.payload.key, r, c), 255);
}
// One layer's and head's (from 0) query·key scores of every token pair, (T, T) float32, for a large grid.
async function fetchScoreMatrix(d, layer, head) {
  const raw = await V.inflate(V.answer(await server.score_matrix(d.payload.key, layer, head)).scores);
  return new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
}
// Deletion and insertion curves of every method's map and of a random one.
async function fetchFaithfulness(d) {
  return V.answer(await server.faithfulness(d.payload.key));
}
// The top-5 with the `hidden` patches dropped as tokens.
async function fetchTopWithout(d, hidden) {
  return V.answer(await server.top_without(d.payload.key, hidden));
}
// Every method's rank correlation with itself on the model randomised from the head down (depth + 1 points).
async function fetchSanity(d) {
  return V.answer(await server.sanity(d.payload.key));
}
