// The console's OSS V1 upload signer against the V1 header vector the server's tests use
// (tests/fixtures/oss-signing-vectors.json), with WebCrypto and with the plain-JS SHA-1.
// Run: node --test console/tests/oss-vectors.test.mjs

import assert from "node:assert/strict";
import { createHash, createHmac, webcrypto } from "node:crypto";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { hmacSha1, sha1 } from "../sha1.js";
import { hashes, signOssV1 } from "../sign.js";

const fixture = JSON.parse(readFileSync(new URL("../../tests/fixtures/oss-signing-vectors.json", import.meta.url), "utf8"));
const v1 = fixture.cases.filter((c) => c.name === "v1 header");

test("there is a V1 header vector", () => assert.equal(v1.length, 1));

for (const [mode, crypto] of Object.entries({ webcrypto: hashes(webcrypto.subtle), fallback: hashes(null) })) {
  for (const c of v1) {
    test(`${c.name} (${mode})`, async () => {
      const headers = Object.fromEntries(c.headers.filter(([n]) => n !== "authorization"));
      const expected = c.headers.find(([n]) => n === "authorization")[1];
      const accessKeyId = expected.slice(4, expected.indexOf(":"));
      const r = await signOssV1({ method: c.method, bucket: fixture.bucket, key: fixture.key, headers, accessKeyId, secret: fixture.secret, crypto });
      assert.equal(r.stringToSign, c.string_to_sign);
      assert.equal(r.authorization, expected);
      // A wrong secret must not reproduce it.
      const wrong = await signOssV1({ method: c.method, bucket: fixture.bucket, key: fixture.key, headers, accessKeyId, secret: "x", crypto });
      assert.notEqual(wrong.authorization, expected);
    });
  }
}

test("fallback SHA-1/HMAC-SHA1 agree with node on edge lengths", () => {
  for (const n of [0, 1, 55, 56, 63, 64, 65, 119, 120, 200]) {
    const msg = new Uint8Array(n).map((_, i) => (i * 7 + 3) & 0xff);
    assert.equal(Buffer.from(sha1(msg)).toString("hex"), createHash("sha1").update(msg).digest("hex"));
    const key = new Uint8Array(n % 100).map((_, i) => i);
    assert.equal(Buffer.from(hmacSha1(key, msg)).toString("hex"), createHmac("sha1", key).update(msg).digest("hex"));
  }
});
