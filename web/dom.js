// Tiny DOM helpers: h() builds elements (text is always set as text, never HTML).

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "testid") el.dataset.testid = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function setText(el, text) {
  const t = String(text);
  if (el.textContent !== t) el.textContent = t;
}

/** A message paragraph: hidden when there is no text. */
export function showMsg(el, text, kind = "error") {
  el.textContent = text || "";
  el.hidden = !text;
  el.className = `msg msg-${kind}`;
}

export function field(labelText, control, hint) {
  return h("label", { class: "field" },
    h("span", { class: "field-label" }, labelText),
    control,
    hint ? (hint instanceof Node ? hint : h("span", { class: "field-hint" }, hint)) : null);
}

/** The "← All auctions" link at the top of auction pages. */
export function backLink() {
  return h("a", { class: "back", href: "#/" }, "← All auctions");
}
