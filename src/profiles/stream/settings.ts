import { randomUUID } from "node:crypto";
import {
  isPlainObject,
  optionalBoolean,
  optionalString,
  optionalStringArray,
  requireWebhookUrl,
  type WebhookUrlGuard,
} from "../../api/params.js";
import { ALL_TYPES, checkFilter } from "../../catalog/index.js";
import { HeraldError } from "../../core/errors.js";
import { newEndpointId } from "../../core/ids.js";
import { listenSessionOf } from "../../delivery/transport/listen-relay.js";
import type { Endpoint } from "../../storage/records.js";
import { streamVocabulary } from "./vocabulary.js";
import {
  BEFORE_SEND_TIMEOUT_MS,
  streamBeforeSendFormat,
  streamCommandsFormat,
  streamWireFormat,
} from "./wire-format.js";

/** Where `app_settings` keeps what is not an endpoint: the payload compression switch. */
export const STREAM_SETTINGS = "stream";

/** The legacy single hook and the two synchronous hooks are one per app, so their ids follow from it. */
export const legacyHookId = (appId: string) => `ep_stream_${appId}`;
export const beforeSendHookId = (appId: string) => `ep_stream-before-send_${appId}`;
export const commandsHookId = (appId: string) => `ep_stream-commands_${appId}`;

const MAX_HOOKS = 20;
const MAX_TIMEOUT_MS = 5000;
const HOOK_ID = /^[A-Za-z0-9_-]{1,64}$/;
const SUPPORTED_HOOK_TYPE = "webhook";
const CLOUD_HOOK_TYPES = ["sqs", "sns", "pending_message"];

/** The app-level fields PATCH /app takes; anything else is refused by name, never silently dropped. */
const APP_FIELDS = new Set([
  "webhook_url",
  "webhook_events",
  "event_hooks",
  "explicit_event_hooks_deletion",
  "before_message_send_hook_url",
  "before_message_send_hook_attempt_timeout_ms",
  "custom_action_handler_url",
  "enable_hook_payload_compression",
]);
/** Fields of an event hook: what GET /app shows (sent back as it was, by clients that GET then PATCH) and what Stream's type has. */
const HOOK_FIELDS = new Set([
  "id",
  "hook_type",
  "enabled",
  "event_types",
  "webhook_url",
  "product",
  "should_send_custom_events",
  "created_at",
  "updated_at",
]);

const invalid = (parameter: string, message: string) => new HeraldError("invalid_value", message, { parameter });

/** Everything of an app's Stream configuration, as stored: endpoints plus one settings row. */
export interface StreamState {
  legacy: Endpoint | undefined;
  hooks: Endpoint[];
  beforeSend: Endpoint | undefined;
  commands: Endpoint | undefined;
  /** The app's settings row, as stored. */
  settings: Record<string, unknown>;
  compression: boolean;
}

/** A push hook's id as Stream clients see it: the one they gave or were given, else the endpoint's. */
export const hookIdOf = (endpoint: Endpoint): string =>
  typeof endpoint.options.hook_id === "string" ? endpoint.options.hook_id : endpoint.id;

/** Where a hook stands in the app's list: as last sent through PATCH /app; others (made natively) after. */
const positionOf = (endpoint: Endpoint): number =>
  typeof endpoint.options.position === "number" ? endpoint.options.position : Number.MAX_SAFE_INTEGER;

export function streamState(
  appId: string,
  endpoints: readonly Endpoint[],
  settings: Record<string, unknown> = {},
): StreamState {
  return {
    legacy: endpoints.find((endpoint) => endpoint.id === legacyHookId(appId)),
    // A `herald listen` session's endpoint is the session's, not a setting: PATCH /app neither changes nor deletes it.
    hooks: endpoints
      .filter(
        (endpoint) =>
          endpoint.profile === streamWireFormat.id &&
          endpoint.id !== legacyHookId(appId) &&
          listenSessionOf(endpoint.url) === undefined,
      )
      .sort((a, b) => positionOf(a) - positionOf(b)),
    beforeSend: endpoints.find((endpoint) => endpoint.id === beforeSendHookId(appId)),
    commands: endpoints.find((endpoint) => endpoint.id === commandsHookId(appId)),
    settings,
    compression: settings.enable_hook_payload_compression === true,
  };
}

/** Stream shows "every event" as an empty list. */
const eventTypesView = (endpoint: Endpoint): string[] =>
  endpoint.eventTypes.includes(ALL_TYPES) ? [] : endpoint.eventTypes;

/** The webhook part of GET /app's `app`. */
export function appSettingsView(state: StreamState) {
  return {
    webhook_url: state.legacy?.url ?? "",
    webhook_events: state.legacy ? eventTypesView(state.legacy) : [],
    event_hooks: state.hooks.map((hook) => ({
      id: hookIdOf(hook),
      hook_type: SUPPORTED_HOOK_TYPE,
      enabled: hook.enabled,
      event_types: eventTypesView(hook),
      webhook_url: hook.url,
      product: "chat",
      created_at: new Date(hook.createdAt).toISOString(),
      updated_at: new Date(hook.updatedAt).toISOString(),
    })),
    before_message_send_hook_url: state.beforeSend?.url ?? "",
    before_message_send_hook_attempt_timeout_ms: Number(state.beforeSend?.options.timeout_ms ?? 0),
    custom_action_handler_url: state.commands?.url ?? "",
    enable_hook_payload_compression: state.compression,
    use_hook_v2: true,
  };
}

/** What one PATCH /app comes to: endpoints to write, endpoints to delete, and the settings row. */
export interface StreamChanges {
  save: Endpoint[];
  remove: Endpoint[];
  compression: boolean | undefined;
}

const optionalUrl = (value: unknown, parameter: string, guard: WebhookUrlGuard): string | undefined => {
  const url = optionalString(value, parameter);
  return url === undefined || url === "" ? url : requireWebhookUrl(url, parameter, guard);
};

function optionalEventTypes(value: unknown, parameter: string): string[] | undefined {
  // Stream sends `null` for "every event".
  if (value === null) return [ALL_TYPES];
  const types = optionalStringArray(value, parameter);
  return types && checkFilter(types, streamVocabulary, parameter);
}

function timeoutMs(value: unknown): number | undefined {
  const parameter = "before_message_send_hook_attempt_timeout_ms";
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > MAX_TIMEOUT_MS) {
    throw invalid(
      parameter,
      `${parameter} must be an integer from 0 to ${MAX_TIMEOUT_MS}, not ${String(JSON.stringify(value)).slice(0, 64)}`,
    );
  }
  return value;
}

/** A Stream endpoint with Herald's defaults, for a hook that does not exist yet. */
function newStreamEndpoint(id: string, appId: string, profile: string, description: string, now: number): Endpoint {
  return {
    id,
    appId,
    vocabulary: streamVocabulary.id,
    profile,
    url: "",
    description,
    enabled: false,
    disabledReason: null,
    retryPolicy: "profile",
    eventTypes: [ALL_TYPES],
    headers: {},
    options: {},
    createdAt: now,
    updatedAt: now,
  };
}

/** Sets a one-per-app hook's URL (empty: off), keeping its other fields. */
function withUrl(current: Endpoint, url: string, now: number, options: Record<string, unknown> = {}): Endpoint {
  return { ...current, url, enabled: url !== "", options: { ...current.options, ...options }, updatedAt: now };
}

interface HookInput {
  id: string | undefined;
  enabled: boolean;
  eventTypes: string[];
  url: string;
}

function parseHook(raw: unknown, index: number, seen: Set<string>, guard: WebhookUrlGuard): HookInput {
  const at = `event_hooks[${index}]`;
  if (!isPlainObject(raw)) {
    throw new HeraldError("invalid_type", `"${at}" must be an object.`, { parameter: at, expected: "object" });
  }
  for (const field of Object.keys(raw)) {
    if (!HOOK_FIELDS.has(field) && !field.startsWith("sqs_") && !field.startsWith("sns_")) {
      throw invalid(`${at}.${field}`, `"${at}.${field}" is not an event hook field`);
    }
  }
  const hookType = optionalString(raw.hook_type, `${at}.hook_type`) ?? SUPPORTED_HOOK_TYPE;
  if (hookType !== SUPPORTED_HOOK_TYPE) {
    const why = CLOUD_HOOK_TYPES.includes(hookType)
      ? "needs a cloud service Herald does not run"
      : "is not a hook type";
    throw invalid(
      `${at}.hook_type`,
      `${at}.hook_type "${hookType}" ${why}; Herald supports hook_type "webhook" (HTTP push)`,
    );
  }
  const id = optionalString(raw.id, `${at}.id`);
  if (id !== undefined && id !== "") {
    if (!HOOK_ID.test(id)) throw invalid(`${at}.id`, `${at}.id must be 1 to 64 letters, digits, "-" or "_"`);
    if (seen.has(id)) throw invalid(`${at}.id`, `${at}.id "${id}" appears twice`);
    seen.add(id);
  }
  const url = optionalUrl(raw.webhook_url, `${at}.webhook_url`, guard);
  if (!url)
    throw new HeraldError("missing_parameter", `${at}.webhook_url is required`, { parameter: `${at}.webhook_url` });
  return {
    id: id === "" ? undefined : id,
    enabled: optionalBoolean(raw.enabled, `${at}.enabled`) ?? true,
    eventTypes: optionalEventTypes(raw.event_types, `${at}.event_types`) ?? [ALL_TYPES],
    url,
  };
}

/**
 * `event_hooks` as Stream applies it: a hook whose `id` exists is updated, one without an id (or
 * with an unknown one) is created, and every hook the list leaves out is deleted.
 */
function applyEventHooks(
  raw: unknown,
  state: StreamState,
  appId: string,
  compress: boolean,
  now: number,
  guard: WebhookUrlGuard,
) {
  if (!Array.isArray(raw)) {
    throw new HeraldError("invalid_type", '"event_hooks" must be an array.', {
      parameter: "event_hooks",
      expected: "array",
    });
  }
  // Hooks made through /v1/endpoints count too: a client sending back what GET /app showed is never refused.
  const cap = Math.max(MAX_HOOKS, state.hooks.length);
  if (raw.length > cap) throw invalid("event_hooks", `an app may have at most ${cap} event hooks`);
  const seen = new Set<string>();
  const inputs = raw.map((hook, index) => parseHook(hook, index, seen, guard));
  const existing = new Map(state.hooks.map((hook) => [hookIdOf(hook), hook]));
  const save = inputs.map((input, position) => {
    const current = input.id === undefined ? undefined : existing.get(input.id);
    const hookId = input.id ?? randomUUID();
    const base = current ?? {
      ...newStreamEndpoint(newEndpointId(), appId, streamWireFormat.id, "Stream event hook", now),
      options: { hook_id: hookId, compress },
    };
    // The list keeps the order the client sent it in.
    const options = { ...base.options, position };
    return { ...base, url: input.url, enabled: input.enabled, eventTypes: input.eventTypes, options, updatedAt: now };
  });
  const kept = new Set(save.map((endpoint) => endpoint.id));
  return { save, remove: state.hooks.filter((hook) => !kept.has(hook.id)) };
}

/** Validates a whole PATCH /app body, then says what to write; nothing is written when any field is wrong. */
export function applyAppUpdate(
  rawBody: unknown,
  state: StreamState,
  appId: string,
  now: number,
  guard: WebhookUrlGuard,
): StreamChanges {
  if (!isPlainObject(rawBody)) {
    throw new HeraldError("invalid_type", "the request body must be a JSON object", { expected: "object" });
  }
  for (const field of Object.keys(rawBody)) {
    if (APP_FIELDS.has(field)) continue;
    const hint = /^(sqs|sns)_/.test(field) ? " (SQS and SNS need a cloud service Herald does not run)" : "";
    throw invalid(
      field,
      `Herald does not support the app setting "${field}"${hint}; it supports ${[...APP_FIELDS].join(", ")}`,
    );
  }
  const body = rawBody;
  const compression = optionalBoolean(body.enable_hook_payload_compression, "enable_hook_payload_compression");
  optionalBoolean(body.explicit_event_hooks_deletion, "explicit_event_hooks_deletion");
  const compress = compression ?? state.compression;
  const save: Endpoint[] = [];
  let remove: Endpoint[] = [];

  const webhookUrl = optionalUrl(body.webhook_url, "webhook_url", guard);
  const webhookEvents = optionalEventTypes(body.webhook_events, "webhook_events");
  if (webhookUrl !== undefined || webhookEvents !== undefined) {
    const current = state.legacy ?? {
      ...newStreamEndpoint(legacyHookId(appId), appId, streamWireFormat.id, "Stream webhook_url", now),
      options: { compress },
    };
    const url = webhookUrl ?? current.url;
    save.push({ ...withUrl(current, url, now), eventTypes: webhookEvents ?? current.eventTypes });
  }
  if (body.event_hooks !== undefined && body.event_hooks !== null) {
    const hooks = applyEventHooks(body.event_hooks, state, appId, compress, now, guard);
    save.push(...hooks.save);
    remove = hooks.remove;
  }

  const beforeSendUrl = optionalUrl(body.before_message_send_hook_url, "before_message_send_hook_url", guard);
  const beforeSendTimeout = timeoutMs(body.before_message_send_hook_attempt_timeout_ms);
  if (beforeSendUrl !== undefined || beforeSendTimeout !== undefined) {
    const current =
      state.beforeSend ??
      newStreamEndpoint(
        beforeSendHookId(appId),
        appId,
        streamBeforeSendFormat.id,
        "Stream before-message-send hook",
        now,
      );
    const timeout = beforeSendTimeout ?? Number(current.options.timeout_ms ?? 0);
    save.push(withUrl(current, beforeSendUrl ?? current.url, now, { timeout_ms: timeout }));
  }
  const commandsUrl = optionalString(body.custom_action_handler_url, "custom_action_handler_url");
  if (commandsUrl !== undefined) {
    // `{type}` is replaced by the command's name per call; the URL must be valid with it filled in.
    if (commandsUrl !== "") {
      requireWebhookUrl(commandsUrl.replaceAll("{type}", "command"), "custom_action_handler_url", guard);
    }
    const current =
      state.commands ??
      newStreamEndpoint(commandsHookId(appId), appId, streamCommandsFormat.id, "Stream custom command handler", now);
    save.push(withUrl(current, commandsUrl, now));
  }

  // The switch covers every push hook of the app, the ones this request left alone included.
  if (compression !== undefined) {
    const saved = new Set(save.map((endpoint) => endpoint.id));
    const removed = new Set(remove.map((endpoint) => endpoint.id));
    for (const hook of [state.legacy, ...state.hooks]) {
      if (hook && !saved.has(hook.id) && !removed.has(hook.id)) save.push({ ...hook, updatedAt: now });
    }
    for (const endpoint of save) {
      if (endpoint.profile === streamWireFormat.id) endpoint.options = { ...endpoint.options, compress: compression };
    }
  }
  return { save, remove, compression };
}

/** The default before-send timeout when the setting is 0 (Stream: "omitted or 0"). */
export const beforeSendTimeoutOf = (endpoint: Endpoint): number =>
  Number(endpoint.options.timeout_ms ?? 0) || BEFORE_SEND_TIMEOUT_MS;
