// The console shell: sign-in, navigation and a hash router. Each page is a module whose
// render(main, params) draws into <main>; new pages are one more
// entry in ROUTES and one more nav link.

import { AUTH_ERROR, ApiError, call, isAuthError, nativeCrypto, session } from "./api.js";
import { errorBox, formValues, h, mount } from "./dom.js";
import * as jobs from "./jobs.js";
import * as media from "./media.js";
import * as projects from "./projects.js";

const ROUTES = [
  { pattern: /^\/projects$/, nav: "projects", render: projects.list },
  { pattern: /^\/projects\/([0-9A-Za-z-]+)$/, nav: "projects", render: projects.detail },
  { pattern: /^\/media$/, nav: "media", render: media.list },
  { pattern: /^\/media\/([0-9A-Za-z-]+)$/, nav: "media", render: media.detail },
  { pattern: /^\/jobs$/, nav: "jobs", render: jobs.list },
];

const NAV = [
  ["projects", "#/projects", "Projects"],
  ["media", "#/media", "Media library"],
  ["jobs", "#/jobs", "Jobs"],
];

const header = document.getElementById("top");
const main = document.getElementById("main");

// What an authentication error means for the person signing in.
const HINTS = {
  SignatureDoesNotMatch: "The secret does not match this AccessKey ID.",
  "InvalidAccessKeyId.NotFound": "No account has this AccessKey ID.",
  "InvalidAccessKeyId.Inactive": "This AccessKey is disabled (openice account key-enable turns it on again).",
  "InvalidTimeStamp.Expired": "This computer's clock is more than 15 minutes off the server's.",
};

function signInError(e) {
  const box = errorBox(e);
  if (HINTS[e.code]) box.prepend(h("div.hint", {}, HINTS[e.code]));
  return box;
}

/** Sign-in: the key is checked with one cheap signed call before it is kept. */
function signIn(error) {
  drawHeader(null);
  const message = h("div.message");
  if (error) mount(message, signInError(error));
  const form = h(
    "form#signin-form.card.narrow",
    {
      autocomplete: "off",
      onsubmit: async (ev) => {
        ev.preventDefault();
        const { accessKeyId, secret } = formValues(form);
        const creds = { accessKeyId, secret };
        const button = form.querySelector("button");
        button.disabled = true;
        mount(message, h("p.muted", {}, "Checking the key…"));
        try {
          await call("ListEditingProjects", { MaxResults: 1 }, creds);
          session.set(creds);
          if (location.hash === "#/projects") route();
          else location.hash = "#/projects";
        } catch (e) {
          mount(message, signInError(e));
          button.disabled = false;
        }
      },
    },
    h("h1", {}, "Sign in"),
    h("p.muted", {}, "Use an AccessKey of your openice account (", h("code", {}, "openice account create"), " prints one). The secret stays in this tab and is never sent: every request is signed here."),
    h("label", {}, "AccessKey ID", h("input#access-key-id", { name: "accessKeyId", required: true, spellcheck: "false" })),
    h("label", {}, "AccessKey secret", h("input#access-key-secret", { name: "secret", type: "password", required: true })),
    h("button.primary", { type: "submit" }, "Sign in"),
    message,
    nativeCrypto ? null : h("p.muted.small", {}, "This page is not a secure context (plain HTTP on a non-local address), so requests are signed with the console's own SHA-256 instead of WebCrypto. Your secret still never leaves the tab, but use HTTPS (serve --tls-cert/--tls-key) when others share the network."),
  );
  mount(main, form);
  form.querySelector("input").focus();
}

function drawHeader(active) {
  const creds = session.get();
  mount(
    header,
    h("a.brand", { href: "#/projects" }, "openice ", h("span.muted", {}, "console")),
    creds
      ? [
          h(
            "nav.tabs",
            {},
            NAV.map(([id, href, label]) => h(`a${id === active ? ".active" : ""}`, { href }, label)),
          ),
          h(
            "div.who",
            {},
            h("code#who-key", {}, creds.accessKeyId),
            h("button#sign-out", { type: "button", onclick: signOut }, "Sign out"),
          ),
        ]
      : null,
  );
}

function signOut() {
  session.clear();
  location.hash = "#/signin";
}

async function route() {
  const path = location.hash.replace(/^#/, "") || "/projects";
  if (!session.get() || path === "/signin") return signIn();
  const found = ROUTES.map((r) => [r, path.match(r.pattern)]).find(([, m]) => m);
  if (!found) {
    location.hash = "#/projects";
    return;
  }
  const [r, m] = found;
  drawHeader(r.nav);
  mount(main, h("p.muted.loading", {}, "Loading…"));
  try {
    await r.render(main, ...m.slice(1).map(decodeURIComponent));
  } catch (e) {
    showError(e);
  }
}

/** Any error that escapes a page: a wrong key goes back to sign-in, anything else is shown. */
function showError(e) {
  if (isAuthError(e)) {
    session.clear();
    signIn(e);
    return;
  }
  main.prepend(errorBox(e instanceof Error ? e : new ApiError("Error", String(e))));
}

window.addEventListener("hashchange", route);
window.addEventListener(AUTH_ERROR, (ev) => showError(ev.detail));
window.addEventListener("unhandledrejection", (ev) => showError(ev.reason));
window.addEventListener("error", (ev) => showError(ev.error || new Error(ev.message)));
route();
