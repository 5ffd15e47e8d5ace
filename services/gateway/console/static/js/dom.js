// Building DOM from elements and text nodes only: every value from the API goes in as text, never as markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export const badge = (value) => h("span", { class: `badge ${value || ""}` }, value || "—");

export function table(columns, rows, { empty = "Nothing here.", rowAttrs = () => ({}) } = {}) {
  if (!rows.length) return h("p", { class: "empty" }, empty);
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.num ? "num" : null }, c.title)))),
    h(
      "tbody",
      {},
      rows.map((row) =>
        h("tr", rowAttrs(row), columns.map((c) => h("td", { class: c.num ? "num" : null }, c.cell(row)))),
      ),
    ),
  );
}

export function bar(fraction, kind = "") {
  if (fraction === null || fraction === undefined) return h("span", { class: "muted" }, "—");
  const pct = Math.max(0, Math.min(1, fraction)) * 100;
  return h(
    "span",
    {},
    h("span", { class: `bar ${kind}` }, h("span", { style: `width:${pct.toFixed(0)}%` })),
    `${pct.toFixed(0)}%`,
  );
}

export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

export const panel = (...children) => h("div", { class: "panel" }, ...children);
