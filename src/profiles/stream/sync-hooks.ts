import { isPlainObject, requireObject } from "../../api/params.js";
import type { EndpointDirectory } from "../../apps/endpoint-directory.js";
import { HeraldError } from "../../core/errors.js";
import type { SyncHookCaller } from "../../hooks/sync-caller.js";
import type { App } from "../../storage/records.js";
import { beforeSendHookId, beforeSendTimeoutOf, commandsHookId } from "./settings.js";
import { COMMAND_TIMEOUT_MS } from "./wire-format.js";

type Json = Record<string, unknown>;

/** What the chat backend hands over before it stores a message. */
export interface BeforeSendInput {
  message: Json;
  user: Json;
  channel: Json;
  request_info?: Json;
}

/** What to do with the message, as the before-message-send hook decided (or could not). */
export type BeforeSendResult =
  /** Send it unchanged (also when the app has no hook). */
  | { outcome: "accepted"; message: Json }
  /** Send it with the hook's changes to the fields Stream lets a hook change. */
  | { outcome: "modified"; message: Json }
  /** Do not send it; `error` is the hook's text, for the sender. */
  | { outcome: "rejected"; message: Json; error: string }
  /** The hook failed (or its breaker is open): send the original, marked `before_message_send_failed`. */
  | { outcome: "failed_open"; message: Json; reason: string };

export interface CommandInput {
  message: Json;
  user: Json;
  channel?: Json;
  form_data?: Json;
}

/** The handler's message (text, attachments with actions, `mml`, `type: "ephemeral"` or `"error"`), or null to drop it. */
export type CommandResult = { outcome: "message"; message: Json } | { outcome: "dropped"; message: null };

/** The message fields Stream lets a before-send hook change, besides custom fields. */
const REWRITABLE = ["text", "i18n", "show_in_channel", "silent", "type", "attachments"];
/** Stream's own message fields: a hook's answer cannot change these; any other field is custom and can. */
const BUILT_IN = new Set([
  "id",
  "cid",
  "html",
  "user",
  "created_at",
  "updated_at",
  "deleted_at",
  "message_text_updated_at",
  "latest_reactions",
  "own_reactions",
  "reaction_counts",
  "reaction_scores",
  "reaction_groups",
  "reply_count",
  "deleted_reply_count",
  "mentioned_users",
  "parent_id",
  "quoted_message_id",
  "quoted_message",
  "thread_participants",
  "command",
  "args",
  "status",
  "pinned",
  "pinned_at",
  "pinned_by",
  "pin_expires",
  "shadowed",
  "channel",
  "before_message_send_failed",
]);
/** Per-attempt timeout plus this is the whole budget of a before-send call, as Stream has it. */
const ENVELOPE_MARGIN_MS = 500;

/** The body as an object whose named fields are objects too, each named when it is not. */
function requireFields<T extends Json>(input: unknown, fields: string[]): T {
  const body = requireObject(input, "body");
  for (const field of fields) requireObject(body[field], field);
  return body as T;
}

/** The hook's changes taken onto the original: only the rewritable and custom fields. */
function merged(original: Json, answer: Json): Json {
  const next = { ...original };
  for (const [field, value] of Object.entries(answer)) {
    if (REWRITABLE.includes(field) || !BUILT_IN.has(field)) next[field] = value;
  }
  return next;
}

/**
 * Stream's before-message-send: one signed call to `before_message_send_hook_url`, then the
 * message accepted, modified, rejected (`type: "error"`), or sent anyway when the hook fails
 * (timeout, non-2xx, refused, unparsable, breaker open) with `before_message_send_failed: true`.
 */
export async function beforeMessageSend(
  caller: SyncHookCaller,
  endpoints: EndpointDirectory,
  app: App,
  rawInput: unknown,
): Promise<BeforeSendResult> {
  const input = requireFields<BeforeSendInput & Json>(rawInput, ["message", "user", "channel"]);
  const { message } = input;
  const endpoint = await endpoints.get(beforeSendHookId(app.id));
  if (!endpoint?.enabled || endpoint.url === "") return { outcome: "accepted", message };
  const timeoutMs = beforeSendTimeoutOf(endpoint);
  const answer = await caller.call({
    app,
    endpoint,
    url: endpoint.url,
    type: "before_message_send",
    payload: {
      message: { ...message, id: message.id ?? "" },
      user: input.user,
      channel: input.channel,
      request_info: input.request_info ?? {},
    },
    timeoutMs,
    envelopeMs: timeoutMs + ENVELOPE_MARGIN_MS,
    useBreaker: true,
  });
  if (answer.failure !== null) {
    return { outcome: "failed_open", message: { ...message, before_message_send_failed: true }, reason: answer.detail };
  }
  const reply = isPlainObject(answer.body) ? answer.body.message : undefined;
  if (!isPlainObject(reply)) return { outcome: "accepted", message };
  if (reply.type === "error") {
    return {
      outcome: "rejected",
      message,
      error: typeof reply.text === "string" ? reply.text : "rejected by the hook",
    };
  }
  const next = merged(message, reply);
  const changed = Object.keys(next).some((field) => JSON.stringify(next[field]) !== JSON.stringify(message[field]));
  return changed ? { outcome: "modified", message: next } : { outcome: "accepted", message };
}

/** A command name as Stream has them: letters, digits, `_` and `-` (never `.` or `..`, which would climb the handler's path). */
const COMMAND_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** The command a message runs: its `command`, or the word after the leading slash of its text. */
function commandOf(message: Json): string {
  const given = message.command;
  if (given !== undefined && typeof given !== "string") {
    throw new HeraldError("invalid_type", '"message.command" must be a string.', {
      parameter: "message.command",
      expected: "string",
    });
  }
  const match = typeof message.text === "string" ? /^\/(\S+)/.exec(message.text) : null;
  const command = given ?? match?.[1];
  if (!command) {
    throw new HeraldError("missing_parameter", '"message.command" is required (or a text starting with "/name").', {
      parameter: "message.command",
    });
  }
  if (!COMMAND_NAME.test(command)) {
    throw new HeraldError(
      "invalid_value",
      `"${command.slice(0, 64)}" is not a command name: 1 to 64 letters, digits, "_" or "-".`,
      { parameter: "message.command" },
    );
  }
  return command;
}

/**
 * Stream's custom commands: POST to `custom_action_handler_url` with `{type}` replaced by the
 * URL-encoded command name; the handler's message comes back (or null: drop it). No URL is
 * Stream's error 44; a handler that fails (non-2xx, timeout, refused, unparsable) is error 45.
 */
export async function runCommand(
  caller: SyncHookCaller,
  endpoints: EndpointDirectory,
  app: App,
  rawInput: unknown,
): Promise<CommandResult> {
  const input = requireFields<CommandInput & Json>(rawInput, ["message", "user"]);
  const command = commandOf(input.message);
  const endpoint = await endpoints.get(commandsHookId(app.id));
  if (!endpoint?.enabled || endpoint.url === "") {
    throw new HeraldError("invalid_value", "App config does not have custom_action_handler_url", { vendorCode: 44 });
  }
  const text = typeof input.message.text === "string" ? input.message.text : "";
  const args = input.message.args ?? text.replace(/^\/\S+\s*/, "");
  const answer = await caller.call({
    app,
    endpoint,
    url: endpoint.url.replaceAll("{type}", encodeURIComponent(command)),
    type: "custom_command",
    payload: {
      message: { ...input.message, command, args },
      user: input.user,
      ...(input.channel ? { channel: input.channel } : {}),
      ...(input.form_data ? { form_data: input.form_data } : {}),
    },
    timeoutMs: COMMAND_TIMEOUT_MS,
    envelopeMs: COMMAND_TIMEOUT_MS + ENVELOPE_MARGIN_MS,
    useBreaker: false,
  });
  if (answer.failure === "invalid_request") throw new HeraldError("invalid_value", answer.detail);
  if (answer.failure !== null) {
    throw new HeraldError("invalid_value", `Custom Command handler returned an error: ${answer.detail}`, {
      vendorCode: 45,
    });
  }
  const reply = isPlainObject(answer.body) ? answer.body.message : undefined;
  if (reply === null) return { outcome: "dropped", message: null };
  if (!isPlainObject(reply)) {
    throw new HeraldError("invalid_value", 'Custom Command handler returned an error: its answer has no "message"', {
      vendorCode: 45,
    });
  }
  return { outcome: "message", message: reply };
}
