// DOM helpers: elements are built, never parsed from strings, so no API value is ever HTML.

/** h("tag.class#id", {attr: value, onclick: fn}, ...children) */
export function h(spec, attrs = {}, ...children) {
  const [, tag, rest] = spec.match(/^([a-z0-9]+)(.*)$/i);
  const el = document.createElement(tag);
  for (const part of rest.match(/[.#][^.#]+/g) || []) {
    if (part[0] === ".") el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces the children of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** The readable form of an API error: "Code: Message" and the RequestId to quote. */
export function errorBox(e) {
  const code = e.code || e.name || "Error";
  return h(
    "div.error",
    { role: "alert" },
    h("strong.error-code", {}, code),
    ": ",
    h("span.error-message", {}, e.message || String(e)),
    e.requestId ? h("div.request-id", {}, `RequestId ${e.requestId}`) : null,
  );
}

export function statusBadge(status) {
  return h(`span.badge.status-${(status || "unknown").toLowerCase()}`, {}, status || "—");
}

/** Reads a form's named fields into {name: trimmed value}; empty fields are undefined, so
 * they are not sent at all (an API parameter left out means "no filter" / "unchanged"). */
export function formValues(form) {
  const out = {};
  for (const [k, v] of new FormData(form)) {
    const value = typeof v === "string" ? v.trim() : v;
    out[k] = value === "" ? undefined : value;
  }
  return out;
}

/** "2026-11-30T19:00:00Z" from a <input type=datetime-local> value (browser's time zone). */
export function isoFromLocal(value) {
  return value ? new Date(value).toISOString().replace(/\.\d+Z$/, "Z") : undefined;
}

export const fmtTime = (iso) => (iso ? new Date(iso).toLocaleString() : "—");

export function fmtBytes(n) {
  const v = Number(n);
  if (!Number.isFinite(v)) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  let x = v;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${i ? x.toFixed(1) : x} ${units[i]}`;
}

export function fmtSeconds(s) {
  const v = Number(s);
  if (!Number.isFinite(v)) return "—";
  const m = Math.floor(v / 60);
  const sec = v - m * 60;
  return m ? `${m}:${sec.toFixed(2).padStart(5, "0")}` : `${sec.toFixed(2)} s`;
}

/** A previous/next pager; `page` is 1-based, `hasNext` decides the next button. */
export function pager({ page, hasNext, total, onPage }) {
  return h(
    "nav.pager",
    { "aria-label": "pages" },
    h("button.prev", { type: "button", disabled: page <= 1, onclick: () => onPage(page - 1) }, "‹ Previous"),
    h("span.page", {}, `Page ${page}`, total !== undefined ? ` · ${total} in all` : ""),
    h("button.next", { type: "button", disabled: !hasNext, onclick: () => onPage(page + 1) }, "Next ›"),
  );
}
