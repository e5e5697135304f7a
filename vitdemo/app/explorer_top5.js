// Click to hide's answer, drawn in the top-5 beside the map (issue 23): the page's top-5 (a gr.Label, whose
// elem_id the template names in data-top5) is covered, while patches are hidden, by the classification
// without them, each label with what it was; with no patch hidden, the Label's own list shows again. Part of
// the explorer's js_on_load (after `const V = window.vitdemo`); explorer.js calls these.
function top5Box() {
  const id = element.querySelector(".vx").dataset.top5;
  return id ? document.getElementById(id) : null;
}

// `title`: the line above the list; `top`: [[label, probability], ...] (none: the title alone); `was`:
// {label: probability} before hiding; `percent` writes a probability.
function showTopWithout(title, top, was, percent) {
  const box = top5Box();
  if (!box) return;
  let panel = box.querySelector(".vx-top-without");
  if (!panel) {
    panel = Object.assign(document.createElement("div"), { className: "vx-top-without" });
    panel.setAttribute("aria-live", "polite");
    box.append(panel);
  }
  box.classList.add("vx-hiding");
  const heading = Object.assign(document.createElement("p"), { className: "vx-tw-title", textContent: title });
  const list = document.createElement("ol");
  for (const [label, p] of top || []) {
    const row = document.createElement("li");
    const bar = Object.assign(document.createElement("span"), { className: "vx-tw-bar" });
    bar.style.width = `${Math.max(0, Math.min(1, p)) * 100}%`;
    const before = label in was ? V.tr("explorer.was", { percent: percent(was[label]) }) : "";
    row.append(Object.assign(document.createElement("span"), { className: "vx-tw-label", textContent: label }),
      Object.assign(document.createElement("span"), { className: "vx-tw-p", textContent: percent(p) + before }), bar);
    list.append(row);
  }
  panel.replaceChildren(heading, list);
  if (top) panel.append(Object.assign(document.createElement("p"), { className: "vx-tw-note",
    textContent: V.tr("explorer.without_hint") }));
}

function clearTopWithout() {
  const box = top5Box();
  if (!box) return;
  box.classList.remove("vx-hiding");
  box.querySelector(".vx-top-without")?.remove();
}

// The map and the top-5 in view (issue 23): an example clicked below the results (a phone's page) must not
// answer above the viewport. ui.py's listener on the examples calls this at once and asks for it again when
// the new analysis paints (V.revealUntil); it scrolls only when one of the two is out of view.
function revealResults() {
  const map = element.querySelector(".vx-map").closest("figure"), shown = [map, top5Box()].filter(Boolean)
    .map((el) => el.getBoundingClientRect()).filter((r) => r.height > 0);
  if (!shown.length) return;
  const top = Math.min(...shown.map((r) => r.top)), bottom = Math.max(...shown.map((r) => r.bottom));
  if (top >= 0 && bottom <= window.innerHeight) return;
  const margin = 8, fits = bottom - top + 2 * margin <= window.innerHeight;
  window.scrollBy({ top: (fits ? top : map.getBoundingClientRect().top) - margin, behavior: "instant" });
}
V.revealResults = revealResults;
