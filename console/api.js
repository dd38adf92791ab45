// The console's only way to the server: the public RPC API, signed in the browser.

import { encodePairs, hashes, signV3, toHex } from "./sign.js";

const VERSION = "2020-11-09";
const KEY = "openice.console.credentials";
const utf8 = new TextEncoder();
const crypto = hashes();

/** An API error as the server answered it (or a network failure, Code `NetworkError`). */
export class ApiError extends Error {
  constructor(code, message, requestId = "", status = 0) {
    super(message);
    this.code = code;
    this.requestId = requestId;
    this.status = status;
  }
}

/** Credentials live in this tab's sessionStorage only: closing the tab signs out. */
export const session = {
  get() {
    const raw = sessionStorage.getItem(KEY);
    return raw ? JSON.parse(raw) : null;
  },
  set(creds) {
    sessionStorage.setItem(KEY, JSON.stringify(creds));
  },
  clear() {
    sessionStorage.removeItem(KEY);
  },
};

/** Whether signing uses WebCrypto (secure contexts) or the plain-JS fallback. */
export const nativeCrypto = crypto.native;

/** The hash functions the console signs with (OSS uploads sign with them too). */
export const cryptoHashes = crypto;

/**
 * Calls `action` with `params` ({name: value}; undefined and null values are left out, "" is
 * sent: it clears a field such as MediaTags) and
 * answers the parsed JSON body, or throws ApiError.
 *
 * Every parameter travels in the form body (the server merges query and body as the SDK's
 * split requires). Signed headers: those the SDK signs, minus `user-agent`, which browsers
 * will not let a page set; `host` is signed with the value the browser sends for this origin.
 */
export async function call(action, params = {}, creds) {
  try {
    return await signedCall(action, params, creds ?? session.get());
  } catch (e) {
    // The tab's own key was refused (deleted or disabled meanwhile): tell the shell, which
    // goes back to sign-in. A key being tried at sign-in is passed in and not reported.
    if (!creds && isAuthError(e)) window.dispatchEvent(new CustomEvent(AUTH_ERROR, { detail: e }));
    throw e;
  }
}

/** The event `call` raises on window when the signed-in key is refused. */
export const AUTH_ERROR = "openice:auth-error";

async function signedCall(action, params, creds) {
  if (!creds) throw new ApiError("NotSignedIn", "Sign in first.");
  const pairs = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => [k, String(v)]);
  // Sorted keys, as the SDK sends its form bodies.
  const body = utf8.encode(encodePairs(pairs));
  const nonce = toHex(globalThis.crypto.getRandomValues(new Uint8Array(16)));
  const headers = {
    accept: "application/json",
    "content-type": "application/x-www-form-urlencoded",
    host: location.host,
    "x-acs-action": action,
    "x-acs-content-sha256": await crypto.sha256Hex(body),
    "x-acs-date": new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    "x-acs-signature-nonce": nonce,
    "x-acs-version": VERSION,
  };
  const { authorization } = await signV3({
    method: "POST",
    headers,
    body,
    accessKeyId: creds.accessKeyId,
    secret: creds.secret,
    crypto,
  });
  const { host: _host, ...sent } = headers;
  let response;
  try {
    response = await fetch("/", {
      method: "POST",
      headers: { ...sent, authorization },
      body,
      credentials: "omit",
      cache: "no-store",
    });
  } catch (e) {
    throw new ApiError("NetworkError", `The server could not be reached (${e.message}).`);
  }
  let doc;
  try {
    doc = await response.json();
  } catch {
    throw new ApiError(
      "BadResponse",
      `The server answered HTTP ${response.status} without a JSON body.`,
      "",
      response.status,
    );
  }
  if (!response.ok) {
    throw new ApiError(
      doc.Code || `HTTP${response.status}`,
      doc.Message || response.statusText,
      doc.RequestId || "",
      response.status,
    );
  }
  return doc;
}

/** Codes that mean the key itself is wrong: the console goes back to sign-in. */
export const isAuthError = (e) =>
  e instanceof ApiError &&
  ["InvalidAccessKeyId.NotFound", "InvalidAccessKeyId.Inactive", "SignatureDoesNotMatch"].includes(e.code);
