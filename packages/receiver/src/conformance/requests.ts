import { randomUUID } from "node:crypto";
import {
  encodeSendbirdJson,
  SENDBIRD_LEGACY_SIGNATURE_HEADER,
  SENDBIRD_SIGNATURE_HEADER,
  STANDARD_WEBHOOK_ID_HEADER,
  STANDARD_WEBHOOK_SIGNATURE_HEADER,
  STANDARD_WEBHOOK_TIMESTAMP_HEADER,
  STREAM_API_KEY_HEADER,
  STREAM_ATTEMPT_HEADER,
  STREAM_SIGNATURE_HEADER,
  STREAM_WEBHOOK_ID_HEADER,
  signSendbird,
  signStandardWebhook,
  signStream,
} from "@herald/signing";
import type { ProfileName } from "../verify/outcome.js";

/** A request as the sender would put it on the wire. */
export interface WireRequest {
  headers: Record<string, string>;
  body: Buffer;
}

export interface SignOptions {
  id?: string;
  /** Unix seconds; Standard Webhooks only. */
  timestamp?: number;
  /** Extra signatures to list before the valid one (Standard Webhooks rotation). */
  alsoSignedWith?: string[];
}

/** Builds, encodes and signs requests exactly as each profile's sender does. */
export interface ProfileSender {
  /** A realistic message event carrying `text`, encoded the way this sender encodes. */
  messageEvent(text: string, padding?: string): Buffer;
  sign(body: Buffer, secret: string, options?: SignOptions): WireRequest;
  /** Whether the wire format carries a timestamp a receiver must check. */
  readonly timestamped: boolean;
  /** Whether one request can carry several signatures. */
  readonly multiSignature: boolean;
}

let sequence = 0;
const json = { "content-type": "application/json" };

const sendbird: ProfileSender = {
  timestamped: false,
  multiSignature: false,
  messageEvent: (text, padding = "") =>
    Buffer.from(
      encodeSendbirdJson({
        category: "group_channel:message_send",
        sender: {
          user_id: "conformance",
          nickname: "Checker",
          profile_url: "https://example.com/a/b.png",
          metadata: {},
        },
        payload: { message_id: Date.now() * 1000 + ++sequence, message: text, data: padding, created_at: Date.now() },
        channel: { channel_url: "sendbird_group_channel_conformance", name: "Conformance", custom_type: "" },
        sdk: "API",
        app_id: "00000000-0000-4000-8000-000000000000",
      }),
    ),
  sign: (body, secret) => {
    const signature = signSendbird(body, secret);
    return {
      body,
      headers: { ...json, [SENDBIRD_SIGNATURE_HEADER]: signature, [SENDBIRD_LEGACY_SIGNATURE_HEADER]: signature },
    };
  },
};

const stream: ProfileSender = {
  timestamped: false,
  multiSignature: false,
  messageEvent: (text, padding = "") =>
    Buffer.from(
      JSON.stringify({
        type: "message.new",
        cid: "messaging:conformance",
        message: { id: randomUUID(), text, padding, user: { id: "conformance" } },
        user: { id: "conformance" },
        created_at: new Date().toISOString(),
      }),
    ),
  sign: (body, secret, options = {}) => ({
    body,
    headers: {
      ...json,
      [STREAM_SIGNATURE_HEADER]: signStream(body, secret),
      [STREAM_API_KEY_HEADER]: "conformance",
      [STREAM_WEBHOOK_ID_HEADER]: options.id ?? randomUUID(),
      [STREAM_ATTEMPT_HEADER]: "1",
    },
  }),
};

const standardWebhooks: ProfileSender = {
  timestamped: true,
  multiSignature: true,
  messageEvent: (text, padding = "") =>
    Buffer.from(
      JSON.stringify({
        type: "message.created",
        timestamp: new Date().toISOString(),
        data: { id: randomUUID(), text, padding },
      }),
    ),
  sign: (body, secret, options = {}) => {
    const id = options.id ?? `msg_${randomUUID()}`;
    const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
    const signatures = [...(options.alsoSignedWith ?? []), secret].map((key) =>
      signStandardWebhook(id, timestamp, body, key),
    );
    return {
      body,
      headers: {
        ...json,
        [STANDARD_WEBHOOK_ID_HEADER]: id,
        [STANDARD_WEBHOOK_TIMESTAMP_HEADER]: String(timestamp),
        [STANDARD_WEBHOOK_SIGNATURE_HEADER]: signatures.join(" "),
      },
    };
  },
};

export const SENDERS: Readonly<Record<ProfileName, ProfileSender>> = {
  sendbird,
  stream,
  "standard-webhooks": standardWebhooks,
};
