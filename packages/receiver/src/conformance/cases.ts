import type { ProfileSender, WireRequest } from "./requests.js";

export interface Answer {
  /** 0 when no HTTP answer came (refused, reset, timed out). */
  status: number;
  ms: number;
  error?: string;
}

export interface CaseContext {
  sender: ProfileSender;
  secret: string;
  /** A second valid secret, if the user gave one (rotation for single-signature profiles). */
  rotatedSecret: string | undefined;
  send(request: WireRequest, options?: { chunks?: number; chunkDelayMs?: number }): Promise<Answer>;
}

export interface ConformanceCase {
  name: string;
  expect: "accept" | "reject";
  /** Why the case does not apply, if it does not. */
  skip?(context: CaseContext): string | undefined;
  run(context: CaseContext): Promise<Answer>;
}

const FOREIGN_SECRET = "whsec_Y29uZm9ybWFuY2Utd3Jvbmctc2VjcmV0LWtleQ==";
const MIB = 1024 * 1024;

const withoutSignature = (request: WireRequest): WireRequest => ({
  body: request.body,
  headers: Object.fromEntries(Object.entries(request.headers).filter(([name]) => !/signature/i.test(name))),
});

const truncatedSignature = (request: WireRequest): WireRequest => ({
  body: request.body,
  headers: Object.fromEntries(
    Object.entries(request.headers).map(([name, value]) => [
      name,
      /signature/i.test(name) ? value.slice(0, value.length >> 1) : value,
    ]),
  ),
});

/** The edge cases every webhook receiver meets sooner or later, in the order they are fired. */
export const CASES: readonly ConformanceCase[] = [
  {
    name: "valid request",
    expect: "accept",
    run: ({ sender, secret, send }) => send(sender.sign(sender.messageEvent("hello"), secret)),
  },
  {
    name: "raw bytes, not re-serialised JSON",
    expect: "accept",
    run: ({ sender, secret, send }) => {
      // Whitespace and escapes a parse-and-stringify round trip would change: only the raw bytes verify.
      const body = sender.messageEvent("a/b é 😀 <&>");
      return send(sender.sign(Buffer.concat([Buffer.from("{ "), body.subarray(1)]), secret));
    },
  },
  {
    name: "tampered body",
    expect: "reject",
    run: ({ sender, secret, send }) => {
      const signed = sender.sign(sender.messageEvent("hello"), secret);
      return send({ ...signed, body: Buffer.from(signed.body.toString().replace("hello", "jello")) });
    },
  },
  {
    name: "wrong secret",
    expect: "reject",
    run: ({ sender, send }) => send(sender.sign(sender.messageEvent("hello"), FOREIGN_SECRET)),
  },
  {
    name: "missing signature",
    expect: "reject",
    run: ({ sender, secret, send }) => send(withoutSignature(sender.sign(sender.messageEvent("hello"), secret))),
  },
  {
    name: "truncated signature",
    expect: "reject",
    run: ({ sender, secret, send }) => send(truncatedSignature(sender.sign(sender.messageEvent("hello"), secret))),
  },
  {
    name: "rotated secrets",
    expect: "accept",
    skip: ({ sender, rotatedSecret }) =>
      sender.multiSignature || rotatedSecret ? undefined : "give a second --secret to test rotation",
    run: ({ sender, secret, rotatedSecret, send }) =>
      sender.multiSignature
        ? send(sender.sign(sender.messageEvent("rotation"), secret, { alsoSignedWith: [FOREIGN_SECRET] }))
        : send(sender.sign(sender.messageEvent("rotation"), rotatedSecret!)),
  },
  {
    name: "stale timestamp (10 min)",
    expect: "reject",
    skip: ({ sender }) => (sender.timestamped ? undefined : "this profile carries no timestamp"),
    run: ({ sender, secret, send }) =>
      send(sender.sign(sender.messageEvent("stale"), secret, { timestamp: Math.floor(Date.now() / 1000) - 600 })),
  },
  {
    name: "duplicate delivery",
    expect: "accept",
    run: async ({ sender, secret, send }) => {
      const request = sender.sign(sender.messageEvent("twice"), secret);
      const first = await send(request);
      return first.status >= 200 && first.status < 300 ? send(request) : first;
    },
  },
  {
    name: "emoji, CJK and RTL text",
    expect: "accept",
    run: ({ sender, secret, send }) =>
      send(sender.sign(sender.messageEvent("Emoji 🎉👩‍👩‍👧 CJK 你好 RTL שלום \u2028"), secret)),
  },
  {
    name: "1 MiB body",
    expect: "accept",
    run: ({ sender, secret, send }) => send(sender.sign(sender.messageEvent("large", "x".repeat(MIB)), secret)),
  },
  {
    name: "slow client (body over 1.6 s)",
    expect: "accept",
    run: ({ sender, secret, send }) =>
      send(sender.sign(sender.messageEvent("slow"), secret), { chunks: 8, chunkDelayMs: 200 }),
  },
];
