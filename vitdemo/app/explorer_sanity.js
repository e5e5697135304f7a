// The sanity check in the faithfulness panel (part of the explorer's js_on_load, after explorer.js, in its scope:
// `d`, `tr`, `$`, `element`): the cascading randomisation test of every method, on request (server: about
// depth / 2 forwards and each class method's backward per step), one curve per method (explorer_plots.js).
// Test contract: #explorer gets data-sanity (JSON {method: [ρ, ...]}, depth + 1 values each).
const sanityControls = {
  button: $(".vx-sanity-button"), progress: $(".vx-sanity-progress"), curves: $(".vx-sanity-curves"),
  legend: $(".vx-sanity-legend"),
};

async function sanityCheck() {
  if (!d) return;
  const mine = d, c = sanityControls;
  c.button.disabled = true; c.progress.hidden = false;
  c.legend.textContent = tr("explorer.sanity.running", { steps: mine.payload.depth + 1 });
  try {
    mine.sanity = mine.sanity || await fetchSanity(mine);
    if (mine === d) drawSanity(mine.sanity);
  } catch (error) {
    if (mine === d) c.legend.textContent = tr("explorer.not_available", { error: error.message || error });
  } finally {
    c.button.disabled = false; c.progress.hidden = true;
  }
}
function drawSanity(results) {
  sanityControls.curves.hidden = false;
  sanityControls.legend.innerHTML = plotSanity(sanityControls.curves, results, d.payload.schema, tr);
  element.dataset.sanity = JSON.stringify(results);
}
// A new bundle: no curves yet; the button only for a model with a classifier.
function clearSanity() {
  sanityControls.curves.hidden = true; sanityControls.legend.textContent = ""; delete element.dataset.sanity;
  sanityControls.button.hidden = !d || !d.payload.classifier;
}

sanityControls.button.addEventListener("click", sanityCheck);
V.onLanguage(() => { if (d && d.sanity && !sanityControls.curves.hidden) drawSanity(d.sanity); });
