// Gradio's own buttons write some labels as fixed English (Fullscreen, Remove Image, Upload file, More tabs,
// Thumbnail 3 of 13, ...), out of reach of its i18n: here an aria-label or title whose text is one of them (the
// `explorer.gradio.*` strings, vitdemo/app/strings/gradio.py) is swapped for the page's language, in every
// part of the page as Gradio draws it, and again when the language changes. Loaded in the page's <head>
// after explorer_strings.js (window.vitdemo.tr).
(() => {
  const V = window.vitdemo, PREFIX = "explorer.gradio.", ATTRIBUTES = ["aria-label", "title"];
  const escape = (text) => text.replace(/[.*+?^$()|[\]\\]/g, "\\$&");
  // Every language's text of every label, as a pattern ({index} and the like match a number): → its key.
  const patterns = [];
  for (const table of Object.values(V.strings || {})) {
    for (const [key, template] of Object.entries(table)) {
      if (!key.startsWith(PREFIX)) continue;
      const names = [...template.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const source = escape(template).replace(/\\?\{\w+\\?\}/g, "(\\d+)");
      patterns.push({ key, names, regex: new RegExp(`^${source}$`) });
    }
  }
  function translated(text) {
    for (const { key, names, regex } of patterns) {
      const match = regex.exec(text);
      if (match) return V.tr(key, Object.fromEntries(names.map((name, i) => [name, match[i + 1]])));
    }
    return null;
  }
  function label(node) {
    for (const name of ATTRIBUTES) {
      const text = node.getAttribute && node.getAttribute(name);
      const wanted = text && translated(text);
      if (wanted && wanted !== text) node.setAttribute(name, wanted);
    }
  }
  function labelAll(root) {
    if (root.nodeType !== 1) return;
    label(root);
    for (const node of root.querySelectorAll("[aria-label], [title]")) label(node);
  }
  new MutationObserver((changes) => {
    for (const change of changes) {
      if (change.type === "attributes") label(change.target);
      else for (const node of change.addedNodes) labelAll(node);
    }
  }).observe(document.documentElement, { subtree: true, childList: true, attributes: true, attributeFilter: ATTRIBUTES });
  V.onLanguage(() => labelAll(document.body));
  if (document.body) labelAll(document.body);
})();
