import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EVENT_MAP } from "stream-chat";
import { STREAM_CHAT_CATALOG } from "../src/profiles/stream/catalog.js";
import { hookEvents, streamChatCatalog, streamVocabulary } from "../src/profiles/stream/vocabulary.js";

/** Stream's documented webhook event types (reference stream.md §3.1, from webhook_events.md), written out. */
const DOCUMENTED = [
  "message.new",
  "message.read",
  "message.updated",
  "message.deleted",
  "reaction.new",
  "reaction.deleted",
  "reaction.updated",
  "member.added",
  "member.updated",
  "member.removed",
  "channel.created",
  "channel.updated",
  "channel.muted",
  "channel.unmuted",
  "channel.truncated",
  "channel.deleted",
  "channel.hidden",
  "user.deactivated",
  "user.deleted",
  "user.reactivated",
  "user.updated",
  "user.muted",
  "user.unmuted",
  "user.banned",
  "user.messages.deleted",
  "user.unbanned",
  "user.flagged",
  "user.unread_message_reminder",
  "export.users.success",
  "export.users.error",
  "export.channels.success",
  "export.channels.error",
  "reminder.created",
  "reminder.updated",
  "reminder.deleted",
  "notification.reminder_due",
];

/** Events the client raises for itself or that only describe a live connection: no webhook carries them. */
const NOT_WEBHOOK = [
  "health.check",
  "connection.changed",
  "connection.recovered",
  "channels.queried",
  "transport.changed",
  "message.read_locally",
  "typing.start",
  "typing.stop",
];

const RFC3339_UTC = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?Z$/;
/** A real instant, written in RFC 3339 with `Z` (no other offset), any fraction up to nanoseconds. */
function isRfc3339Utc(value: string): boolean {
  const match = RFC3339_UTC.exec(value);
  if (!match) return false;
  const [, year, month, day, hour, minute, second] = match.map(Number);
  const date = new Date(Date.UTC(year!, month! - 1, day!, hour!, minute!, second!));
  date.setUTCFullYear(year!); // years below 100 are taken as 19xx by Date.UTC
  // No rollover: 2026-02-30 or 25:00 come back as another date.
  return (
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month! - 1 &&
    date.getUTCDate() === day &&
    date.getUTCHours() === hour &&
    date.getUTCMinutes() === minute &&
    date.getUTCSeconds() === second
  );
}

/** Every [path, key, value] of a JSON-like value, depth first. */
function* fields(value: unknown, path = "$"): Generator<[string, string, unknown]> {
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) yield* fields(item, `${path}[${i}]`);
  } else if (value !== null && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) {
      yield [`${path}.${key}`, key, child];
      yield* fields(child, `${path}.${key}`);
    }
  }
}

describe("Stream Chat catalog", () => {
  const names = STREAM_CHAT_CATALOG.map((entry) => entry.category);

  it("has every documented webhook event type", () => {
    const missing = DOCUMENTED.filter((type) => !streamChatCatalog.has(type));
    assert.deepEqual(missing, []);
  });

  it("lists only real Stream names, each once, and none that no webhook carries", () => {
    const known = new Set([...Object.keys(EVENT_MAP), ...DOCUMENTED]);
    assert.deepEqual(
      names.filter((name) => !known.has(name)),
      [],
    );
    assert.equal(new Set(names).size, names.length, "no type twice");
    assert.deepEqual(
      NOT_WEBHOOK.filter((name) => streamChatCatalog.has(name)),
      [],
    );
  });

  it("groups each type by the part before its first dot", () => {
    for (const entry of STREAM_CHAT_CATALOG) {
      assert.equal(entry.group, entry.category.split(".")[0], entry.category);
      assert.ok(entry.description.length > 0, `${entry.category} has a description`);
    }
  });

  it("gives each sample the type it is listed under and a top-level created_at", () => {
    for (const entry of STREAM_CHAT_CATALOG) {
      assert.equal(entry.sample.type, entry.category);
      assert.equal(typeof entry.sample.created_at, "string", `${entry.category}.created_at`);
    }
  });

  it("writes every *_at field, anywhere in a sample, as RFC 3339 UTC (or null)", () => {
    assert.ok(isRfc3339Utc("2026-11-30T09:41:07.123456Z") && isRfc3339Utc("0001-01-01T00:00:00Z"));
    for (const bad of [
      "2026-11-30T09:41:07.123456+02:00",
      "2026-02-30T09:41:07Z",
      "2026-11-30 09:41:07Z",
      "1764495667",
    ])
      assert.ok(!isRfc3339Utc(bad), bad);

    const wrong: string[] = [];
    for (const entry of STREAM_CHAT_CATALOG) {
      for (const [path, key, value] of fields(entry.sample, entry.category)) {
        if (!key.endsWith("_at") || value === null) continue;
        if (typeof value !== "string" || !isRfc3339Utc(value)) wrong.push(`${path} = ${JSON.stringify(value)}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it("sends at most 50 members in any list, and some on message and channel events", () => {
    for (const entry of STREAM_CHAT_CATALOG) {
      for (const [path, key, value] of fields(entry.sample, entry.category)) {
        if (key === "members" && Array.isArray(value)) assert.ok(value.length <= 50, `${path}: ${value.length}`);
      }
    }
    for (const type of ["message.new", "message.updated", "message.deleted", "channel.created", "channel.updated"]) {
      const members = streamChatCatalog.get(type)?.sample.members;
      assert.ok(Array.isArray(members) && members.length > 0, `${type} carries members`);
    }
  });

  it("is the stream vocabulary, typed by `type`", () => {
    assert.equal(streamVocabulary.id, "stream");
    assert.equal(streamVocabulary.typeField, "type");
    assert.deepEqual(streamVocabulary.catalogs, [streamChatCatalog]);
  });

  it("lists one hook event per visible type, for chat", () => {
    const events = hookEvents();
    assert.deepEqual(
      events.map((event) => event.name),
      [...streamChatCatalog.visibleCategories],
    );
    const visible = STREAM_CHAT_CATALOG.filter((entry) => !entry.hidden).map((entry) => entry.category);
    assert.equal(events.length, new Set(visible).size);
    assert.equal(new Set(events.map((event) => event.name)).size, events.length, "no name twice");
    for (const event of events) {
      assert.deepEqual(event.products, ["chat"]);
      assert.equal(event.description, streamChatCatalog.get(event.name)?.description);
    }
  });
});
