// The browser's half of vitdemo/app/i18n.py, loaded into the page's <head> after the painter: the explorer,
// the galleries and the webcam messages say everything through window.vitdemo.tr(key, {name: value}), from
// the table in window.vitdemo.strings ({"en": {...}, "zh-CN": {...}}: vitdemo/app/strings/explorer.py).
// The language is chosen as Gradio chooses it: the `lang` Gradio sets on <html> (its locale, from the
// browser's language or the page's Settings), else navigator.language; any Chinese reads the Chinese table.
(() => {
  const V = window.vitdemo;
  V.language = () => {
    const lang = (document.documentElement.getAttribute("lang") || navigator.language || "en").toLowerCase();
    return lang.startsWith("zh") ? "zh-CN" : "en";
  };
  V.tr = (key, values = {}) => {
    const strings = V.strings || {}, own = strings[V.language()] || {}, english = strings.en || {};
    const template = key in own ? own[key] : key in english ? english[key] : key;
    return template.replace(/\{(\w+)\}/g, (match, name) => (name in values ? String(values[name]) : match));
  };
  // A class label of the bundle's model as this page's reader names it: the bundle's `names` ({lang: {label:
  // name}}, vitdemo/class_names.py) has the bundled shapes in Chinese; any other label reads as itself. The
  // label stays the key (a class method's maps, a target, file names); only what is shown is translated.
  V.className = (payload, label) => (((payload && payload.names) || {})[V.language()] || {})[label] || label;
  // A template's fixed texts: data-t (the text), data-t-title (title), data-t-aria (aria-label).
  V.translate = (root) => {
    for (const node of root.querySelectorAll("[data-t]")) node.textContent = V.tr(node.dataset.t);
    for (const node of root.querySelectorAll("[data-t-title]")) node.title = V.tr(node.dataset.tTitle);
    for (const node of root.querySelectorAll("[data-t-aria]")) node.setAttribute("aria-label", V.tr(node.dataset.tAria));
  };
  // `fn` runs again whenever the page's language changes (Gradio's Settings switch it without a reload).
  V.onLanguage = (fn) => new MutationObserver(fn).observe(document.documentElement,
    { attributes: true, attributeFilter: ["lang"] });
})();
