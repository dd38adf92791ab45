// ACS3-HMAC-SHA256 request signing, exactly as the official SDK signs (see
// docs/console.md and the vectors in tests/fixtures/signing-vectors.json).

import { hmacSha1 } from "./sha1.js";
import { hmacSha256, sha256 } from "./sha256.js";

export const ALGORITHM = "ACS3-HMAC-SHA256";
const utf8 = new TextEncoder();

export const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** RFC 3986 percent-encoding: everything but A-Z a-z 0-9 - _ . ~ becomes %XX (upper case). */
export function percentEncode(value) {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
  );
}

/** Sorted `key=value` pairs, values percent-encoded: the canonical query string and, as the
 * server form-decodes its body, a valid form body too. */
export function encodePairs(pairs) {
  return [...pairs]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${percentEncode(v)}`)
    .join("&");
}

const toBase64 = (bytes) => btoa(String.fromCharCode(...bytes));

/** Hash functions: WebCrypto where the browser offers it, the plain-JS fallback elsewhere. */
export function hashes(subtle = globalThis.crypto?.subtle) {
  if (!subtle) {
    return {
      native: false,
      sha256Hex: async (bytes) => toHex(sha256(bytes)),
      hmacHex: async (key, msg) => toHex(hmacSha256(utf8.encode(key), utf8.encode(msg))),
      hmacSha1Base64: async (key, msg) => toBase64(hmacSha1(utf8.encode(key), utf8.encode(msg))),
    };
  }
  return {
    native: true,
    sha256Hex: async (bytes) => toHex(new Uint8Array(await subtle.digest("SHA-256", bytes))),
    hmacHex: async (key, msg) => {
      const k = await subtle.importKey("raw", utf8.encode(key), { name: "HMAC", hash: "SHA-256" }, false, [
        "sign",
      ]);
      return toHex(new Uint8Array(await subtle.sign("HMAC", k, utf8.encode(msg))));
    },
    hmacSha1Base64: async (key, msg) => {
      const k = await subtle.importKey("raw", utf8.encode(key), { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
      return toBase64(new Uint8Array(await subtle.sign("HMAC", k, utf8.encode(msg))));
    },
  };
}

/**
 * Signs one request. `query` is [[key, value], ...] (decoded); `headers` maps lower-case names
 * to the values that will travel, every one of them signed; `body` is the exact body bytes.
 * Answers the canonical request, the string to sign, the signature and the Authorization value.
 */
export async function signV3({ method, path = "/", query = [], headers, body, accessKeyId, secret, crypto = hashes() }) {
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((n) => `${n}:${String(headers[n]).trim()}\n`).join("");
  const signedHeaders = names.join(";");
  const canonicalRequest = [
    method.toUpperCase(),
    path || "/",
    encodePairs(query),
    canonicalHeaders,
    signedHeaders,
    await crypto.sha256Hex(body),
  ].join("\n");
  const stringToSign = `${ALGORITHM}\n${await crypto.sha256Hex(utf8.encode(canonicalRequest))}`;
  const signature = await crypto.hmacHex(secret, stringToSign);
  return {
    canonicalRequest,
    stringToSign,
    signature,
    authorization: `${ALGORITHM} Credential=${accessKeyId},SignedHeaders=${signedHeaders},Signature=${signature}`,
  };
}

/**
 * OSS V1 header signature (docs/oss.md): `VERB\nContent-MD5\nContent-Type\nDate\n`, the
 * sorted `x-oss-*` headers, then the decoded resource `/<bucket>/<key>`. `headers` maps
 * lower-case names to values; the date line is `x-oss-date` when present (a page cannot set
 * `Date`), else `date`.
 */
export async function signOssV1({ method, bucket, key, headers, accessKeyId, secret, crypto = hashes() }) {
  const ossHeaders = Object.keys(headers)
    .filter((n) => n.startsWith("x-oss-"))
    .sort()
    .map((n) => `${n}:${String(headers[n]).trim()}\n`)
    .join("");
  const stringToSign =
    `${method}\n${headers["content-md5"] ?? ""}\n${headers["content-type"] ?? ""}\n` +
    `${headers["x-oss-date"] ?? headers.date ?? ""}\n${ossHeaders}/${bucket}/${key}`;
  const signature = await crypto.hmacSha1Base64(secret, stringToSign);
  return { stringToSign, signature, authorization: `OSS ${accessKeyId}:${signature}` };
}
