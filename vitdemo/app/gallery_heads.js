// The per-head gallery (#heads-gallery; after gallery.js): one small map per head of the explorer's analysis
// at its layer; for a method that chains the layers, which exists for fused heads only, the fusions.
// Click a head's map to switch that head off (its output zeroed before the output projection) and see the
// top-5 without it (server: `ablate`); heads switched off stay off across layers until clicked again or a new
// analysis arrives. "Measure each head's effect" asks the server (`head_effects`) for the layers × heads table
// of how much each head alone raises the shown class's logit, drawn brightest first.
// Test contract: #heads-gallery gets data-ablated (JSON {heads: ["3.1", ...] from 1, top: [[label, p], ...]})
// after each answer, and data-effects (JSON {target, effects}) once the table is drawn.
const tools = document.createElement("div");
tools.className = "vg-tools";
tools.innerHTML = `<div class="vg-ablated" aria-live="polite"></div>
  <button class="vg-effects-button" type="button"></button> <progress class="vg-progress" hidden></progress>
  <div class="vg-effects-note" aria-live="polite"></div><div class="vg-effects"></div>`;
element.insertBefore(tools, box);
const ablated = tools.querySelector(".vg-ablated"), effectsButton = tools.querySelector(".vg-effects-button");
const progress = tools.querySelector(".vg-progress"), effectsNote = tools.querySelector(".vg-effects-note");
const effectsBox = tools.querySelector(".vg-effects");
let off = [];          // the heads switched off, as [layer, head] counted from 1
let offFor = null;     // the bundle they belong to
let effects = null;    // {target, effects} of the shown bundle

function load() {}  // it draws the explorer's own bundle (V.decoded)

const named = ([layer, head]) => `${layer}.${head}`;
const percent = (p) => `${(p * 100).toFixed(p >= 0.1 ? 0 : 1)}%`;

function forBundle(d) {
  if (offFor === d) return;
  offFor = d; off = []; effects = null;
  ablated.textContent = ""; effectsNote.textContent = ""; effectsBox.innerHTML = "";
  delete element.dataset.ablated; delete element.dataset.effects;
}

function paint(view) {
  const d = V.decoded;
  box.innerHTML = "";
  forBundle(d);
  effectsButton.textContent = V.tr("explorer.ablation.measure");
  effectsButton.hidden = !d || !d.payload.classifier;
  if (!d) { note.textContent = V.tr("explorer.gallery.empty"); return; }
  const schema = d.payload.schema, fused = V.core.chainsLayers(schema, view.method);
  const heads = fused ? schema.fusions : Array.from({ length: d.payload.heads }, (_, h) => h);
  note.textContent = fused ? V.tr("explorer.gallery.fused", { method: V.tr(V.core.labelKey(schema, view.method)) })
    : V.tr("explorer.gallery.heads", { layer: view.layer, heads: d.payload.heads });
  if (!fused && d.payload.classifier) note.textContent += " " + V.tr("explorer.ablation.hint");
  const thumbs = V.small(d);
  for (const head of heads) {
    const figure = card(V.tr("explorer.gallery.card", { layer: view.layer,
      head: typeof head === "number" ? V.tr("explorer.head_n", { head: V.core.counted(head) })
        : V.tr(`explorer.fusion_short.${head}`) }));
    const shown = { ...view, head, patch: null, grid: false };
    if (!V.paintMap(canvasIn(figure), thumbs, shown, luts)) { missing(d, shown); return; }
    if (typeof head === "number" && d.payload.classifier) switchable(figure, d, [view.layer, V.core.counted(head)]);
  }
  if (effects) drawEffects(d);
  element.dataset.painted = String(performance.now());
}

// A head's card as a toggle: pressed = switched off.
function switchable(figure, d, pair) {
  const isOff = () => off.some((p) => named(p) === named(pair));
  figure.classList.add("vg-switch");
  figure.tabIndex = 0;
  figure.setAttribute("role", "button");
  figure.dataset.head = named(pair);
  figure.setAttribute("aria-pressed", String(isOff()));
  figure.title = V.tr(isOff() ? "explorer.ablation.switch_on" : "explorer.ablation.switch_off", { head: named(pair) });
  const toggle = () => {
    off = isOff() ? off.filter((p) => named(p) !== named(pair)) : [...off, pair];
    repaint();
    ablate(d);
  };
  figure.addEventListener("click", toggle);
  figure.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); toggle(); }
  });
}

async function ablate(d) {
  const asked = off.map((p) => p.slice()), heads = asked.map(named);
  if (!asked.length) { ablated.textContent = ""; delete element.dataset.ablated; return; }
  ablated.textContent = V.tr("explorer.ablation.running");
  let top;
  try {
    top = V.answer(await server.ablate(d.payload.key, asked));
  } catch (error) {
    ablated.textContent = V.tr("explorer.ablation.failed", { error: error.message || error });
    return;
  }
  if (offFor !== d || JSON.stringify(asked) !== JSON.stringify(off)) return;  // a newer click answers
  const was = Object.fromEntries(d.payload.top);
  const listed = top.map(([label, p]) => `${V.className(d.payload, label)} ${percent(p)}` +
    (label in was ? V.tr("explorer.was", { percent: percent(was[label]) }) : "")).join(" · ");
  ablated.textContent = V.tr("explorer.ablation.without", { heads: heads.join(", "), top: listed });
  element.dataset.ablated = JSON.stringify({ heads, top });
}

// The layers × heads table of effects for the explorer's class, on request.
effectsButton.addEventListener("click", async () => {
  const d = V.decoded;
  if (!d) return;
  const label = (V.view && V.view.target) || "";
  effectsButton.disabled = true; progress.hidden = false;
  effectsNote.textContent = V.tr("explorer.ablation.measuring", { count: d.payload.depth * d.payload.heads });
  try {
    const answer = V.answer(await server.head_effects(d.payload.key, label));
    if (offFor !== d) return;
    effects = answer;
    drawEffects(d);
    element.dataset.effects = JSON.stringify(answer);
  } catch (error) {
    effectsNote.textContent = V.tr("explorer.ablation.failed", { error: error.message || error });
  } finally {
    effectsButton.disabled = false; progress.hidden = true;
  }
});

// Each cell's brightness is its effect against the largest; the strongest heads are listed first.
function drawEffects(d) {
  const rows = effects.effects, top = Math.max(1e-9, ...rows.flat().map(Math.abs));
  const ranked = rows.flatMap((row, l) => row.map((e, h) => [e, V.core.counted(l), V.core.counted(h)])).sort((a, b) => Math.abs(b[0]) - Math.abs(a[0]));
  effectsNote.textContent = V.tr("explorer.ablation.effects", { label: V.className(d.payload, effects.target) }) + " " +
    V.tr("explorer.ablation.strongest", { heads: ranked.slice(0, 5).map(([e, l, h]) => `${l}.${h} (${e >= 0 ? "+" : ""}${e.toFixed(2)})`).join(", ") });
  const n = V.core.counted, head = `<tr><th>${V.tr("explorer.layer")}</th>` + rows[0].map((_, h) => `<th>${n(h)}</th>`).join("") + "</tr>";
  const body = rows.map((row, l) => `<tr><th>${n(l)}</th>` + row.map((e, h) => {
    const shade = Math.abs(e) / top, colour = e >= 0 ? `rgba(220, 38, 38, ${shade})` : `rgba(37, 99, 235, ${shade})`;
    return `<td style="background:${colour};color:${shade > 0.55 ? "#fff" : "inherit"}" title="${n(l)}.${n(h)}">${e.toFixed(2)}</td>`;
  }).join("") + "</tr>").join("");
  effectsBox.innerHTML = `<table>${head}${body}</table>`;
}
