import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, it } from "node:test";
import { encodeSendbirdJson, signSendbird, verifySendbird } from "../src/index.js";

describe("Sendbird encoding", () => {
  it("escapes / and every non-ASCII code unit, and parses back to the same value", () => {
    const value = { url: "https://a.example/b", text: "é 你 😀 \u007f", lone: "\ud800", nested: [{ rtl: "שלום" }] };
    const body = encodeSendbirdJson(value);
    assert.match(body, /^[\x20-\x7f]*$/);
    assert.ok(body.includes("https:\\/\\/a.example\\/b"));
    assert.ok(body.includes("\\u00e9 \\u4f60 \\ud83d\\ude00 \u007f"), "lowercase escapes, DEL kept as Python keeps it");
    assert.ok(body.includes("\\ud800"), "a lone surrogate stays escaped");
    assert.deepEqual(JSON.parse(body), value);
  });
});

describe("Sendbird signatures", () => {
  const body = '{"category":"user:block"}';

  it("is lowercase hex HMAC-SHA256 of the bytes", () => {
    assert.equal(signSendbird(body, "token"), createHmac("sha256", "token").update(body).digest("hex"));
  });

  it("verifies against any of several tokens, and refuses others, wrong lengths and missing headers", () => {
    const signature = signSendbird(body, "new-token");
    assert.ok(verifySendbird(body, signature, ["old-token", "new-token"]));
    assert.ok(verifySendbird(Buffer.from(body), signature.toUpperCase(), ["new-token"]));
    assert.ok(!verifySendbird(body, signature, ["other"]));
    assert.ok(!verifySendbird(`${body} `, signature, ["new-token"]));
    assert.ok(!verifySendbird(body, signature.slice(0, 10), ["new-token"]));
    assert.ok(!verifySendbird(body, undefined, ["new-token"]));
  });
});
