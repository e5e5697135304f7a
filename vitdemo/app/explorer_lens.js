// The logit lens view of the explorer (view.method "logit-lens"), drawn from the bundle without a request:
// the class token's top-3 at the layer shown ("what it would answer if it stopped here") and every patch
// painted in the colour of the class its own token would answer at that layer, with a legend. The numbers are
// the bundle's "logit_lens" (vitdemo/explain/payload.py `logit_lens_bundle`); this file only colours and
// words them. Loaded into the page's <head> after explorer_painter.js, whose decode and currentMap call it.
//
// Test contract: while the lens is shown, #explorer gets data-lens (JSON: layer from 1, top: [[label, p]...],
// legend: [[label, patches]...]).
(() => {
  const V = window.vitdemo;
  if (V.lens) return;
  const NAME = "logit-lens";

  // The bundle's lens decoded. Each class's colour is the bundle's (vitdemo/explain/lens.py class_colours),
  // kept for every layer, so a class keeps its colour while the slider moves.
  async function decode(l, depth) {
    if (!l) return null;
    const classes = (await V.stack({ q: l.patch, max: 0 }, l.width === 1 ? 255 : 65535)).q;
    const prob = (await V.stack({ q: l.prob, max: 0 }, 255)).q;
    return { labels: l.labels, top: l.top, classes, prob, colours: l.colours, n: classes.length / depth };
  }

  // The map the painter draws for the lens: each patch in its class's colour (painted as the features lens is).
  function map(d, view) {
    const lens = d.logit;
    if (!lens) return null;
    const n = lens.n, offset = (view.layer - 1) * n, rgb = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++) rgb.set(lens.colours[lens.classes[offset + i]], i * 3);
    return { rgb, foreground: new Uint8Array(n).fill(1), values: new Float32Array(n), peak: 1 };
  }

  const percent = (x) => (x >= 0.1 ? `${(x * 100).toFixed(0)}%` : `${(x * 100).toFixed(1)}%`);
  // The class token's top-3 at the view's layer, as [[label, p], ...].
  function top(d, view) {
    return d.logit.top[view.layer - 1].map(([i, p]) => [d.logit.labels[i], p]);
  }
  // The classes the patches name at this layer, most patches first: [[class index, patches], ...].
  function counted(d, view) {
    const lens = d.logit, offset = (view.layer - 1) * lens.n, counts = new Map();
    for (let i = 0; i < lens.n; i++) {
      const c = lens.classes[offset + i];
      counts.set(c, (counts.get(c) || 0) + 1);
    }
    return [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  }

  function caption(d, view, tr, layer) {
    const answers = top(d, view).map(([label, p]) => `${V.className(d.payload, label)} ${percent(p)}`).join(" · ");
    return tr("explorer.caption.logit_lens", { title: tr("explorer.title.logit-lens"), layer, top: answers });
  }

  // "patch (r, c) would answer: star 73%" for the hover line.
  function hover(d, view, at) {
    const lens = d.logit, i = (view.layer - 1) * lens.n + at;
    return V.tr("explorer.lens_hover", { label: V.className(d.payload, lens.labels[lens.classes[i]]), percent: percent(lens.prob[i] / 255) });
  }

  // The legend under the caption (made once, beside it), shown for the lens only; and data-lens on the root.
  function legend(element, root, d, view) {
    let box = element.querySelector(".vx-legend");
    if (!box) {
      box = Object.assign(document.createElement("div"), { className: "vx-legend" });
      box.setAttribute("aria-live", "polite");
      element.querySelector(".vx-caption").after(box);
    }
    const shown = view.method === NAME && !!d && !!d.logit;
    box.hidden = !shown;
    if (!shown) { delete root.dataset.lens; return; }
    const lens = d.logit, rows = counted(d, view);
    const swatch = (c) => `<i style="background: rgb(${lens.colours[c].join(",")})"></i>`;
    const esc = (s) => String(s).replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
    box.innerHTML = `<span class="vx-why">${esc(V.tr("explorer.lens_legend"))}</span> ` + rows.map(([c, count]) =>
      `<span>${swatch(c)}${esc(V.className(d.payload, lens.labels[c]))} ×${count}</span>`).join(" ");
    root.dataset.lens = JSON.stringify({ layer: view.layer, top: top(d, view),
                                         legend: rows.map(([c, count]) => [lens.labels[c], count]) });
  }

  V.lens = { NAME, decode, map, caption, hover, legend };
})();
