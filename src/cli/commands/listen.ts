import { gunzipSync } from "node:zlib";
import { type Command, Option } from "commander";
import type { Agent } from "undici";
import type { Credential, HeraldClient } from "../client.js";
import { CliError } from "../errors.js";
import { asClient, bold, clientCommand, dim, id, list, red, say, statusColour, stopWhenAdopted } from "../shared.js";

/**
 * `herald listen --forward-to URL`: Herald's webhooks on a laptop Herald cannot reach. A temporary
 * endpoint is created; its deliveries come down one server-sent-events stream the CLI opens to
 * Herald; each is POSTed, byte for byte with its signed headers, to the local URL, and what the local
 * URL answered is reported back, so the attempt shows in the delivery log as if Herald had sent it.
 */

interface ListenSession {
  id: string;
  endpoint: { id: string; profile: string; filter: string[] };
  secret: string | null;
  public_key?: string;
}

interface RelayedDelivery {
  attempt_id: string;
  headers: Record<string, string>;
  /** The exact bytes, base64. */
  body: string;
}

interface Forwarded {
  statusCode: number | null;
  headers: Record<string, string>;
  body: string | null;
  errorClass: string | null;
  /** The failure in words for the terminal line, without the code the class already names. */
  errorMessage?: string;
  error: string | null;
  latencyMs: number;
}

/** How long the local URL may take; Herald's own deadline for the attempt ends it sooner if shorter. */
const FORWARD_TIMEOUT_MS = 30_000;
/** What of the local answer is reported back (the delivery log keeps at most its capture cap of it). */
const REPORTED_BODY_BYTES = 64 * 1024;
const RECONNECT_DELAY_MS = 1000;
/** Headers the local request gets from undici itself. */
const HOP_HEADERS = new Set(["host", "content-length", "connection", "transfer-encoding", "keep-alive"]);
const PROFILES = ["standard", "sendbird", "sendbird-calls", "stream"];

function checkForwardUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(`--forward-to is not a URL: "${raw}" (e.g. http://localhost:3000/webhooks)`, 2);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new CliError(`--forward-to must be an http(s) URL, not "${raw}"`, 2);
  }
  return url.href;
}

/** The event type, read from the body as each vocabulary names it (Sendbird `category`, others `type`). */
function typeOf(body: Buffer, headers: Record<string, string>): string {
  try {
    const bytes = headers["content-encoding"] === "gzip" ? gunzipSync(body) : body;
    const event = JSON.parse(bytes.toString("utf8")) as { category?: unknown; type?: unknown };
    const type = event.category ?? event.type;
    return typeof type === "string" ? type : "(no type)";
  } catch {
    return "(not JSON)";
  }
}

const failureClass = (code: string | undefined): string =>
  code === "ECONNREFUSED" || code === "EHOSTUNREACH"
    ? "refused"
    : code === "ENOTFOUND" || code === "EAI_AGAIN"
      ? "dns"
      : code?.includes("TIMEOUT") || code === "ABORT_ERR"
        ? "timeout"
        : code?.startsWith("ERR_TLS") || code?.includes("CERT")
          ? "tls"
          : "reset";

async function forward(agent: Agent, url: string, delivery: RelayedDelivery): Promise<Forwarded> {
  const { request } = await import("undici");
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(delivery.headers)) if (!HOP_HEADERS.has(name)) headers[name] = value;
  const started = performance.now();
  const latency = () => Math.round((performance.now() - started) * 10) / 10;
  try {
    const response = await request(url, {
      method: "POST",
      body: Buffer.from(delivery.body, "base64"),
      headers,
      dispatcher: agent,
      headersTimeout: FORWARD_TIMEOUT_MS,
      bodyTimeout: FORWARD_TIMEOUT_MS,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      if (size < REPORTED_BODY_BYTES) chunks.push(chunk);
      size += chunk.length;
    }
    const responseHeaders: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) responseHeaders[name] = Array.isArray(value) ? value.join(", ") : value;
    }
    const body = Buffer.concat(chunks).subarray(0, REPORTED_BODY_BYTES).toString("utf8").replaceAll("\u0000", "\uFFFD");
    return {
      statusCode: response.statusCode,
      headers: responseHeaders,
      body,
      errorClass: null,
      error: null,
      latencyMs: latency(),
    };
  } catch (error) {
    const code = (error as { code?: string }).code;
    const message = error instanceof Error ? error.message : String(error);
    return {
      statusCode: null,
      headers: {},
      body: null,
      errorClass: failureClass(code),
      error: `${code ?? "error"}: ${message}`,
      errorMessage: message,
      latencyMs: latency(),
    };
  }
}

/** Splits a server-sent-events byte stream into events. */
async function* serverSentEvents(body: AsyncIterable<Buffer>): AsyncGenerator<{ event: string; data: string }> {
  let buffered = "";
  for await (const chunk of body) {
    buffered += chunk.toString("utf8");
    let end = buffered.indexOf("\n\n");
    while (end !== -1) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      end = buffered.indexOf("\n\n");
      let event = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      if (data.length > 0) yield { event, data: data.join("\n") };
    }
  }
}

const signingNote = (session: ListenSession, profile: string) =>
  session.secret
    ? `Your webhook signing secret is ${bold(session.secret)}`
    : profile === "stream"
      ? "Webhooks are signed with the app's newest API secret (herald app keys), as Stream does"
      : "Webhooks are signed with the app's master API token, as Sendbird does";

interface ListenOptions {
  forwardTo: string;
  events?: string[];
  profile: string;
  json?: boolean;
}

async function listen(options: ListenOptions, client: HeraldClient, credential: Credential, json: boolean) {
  const forwardTo = checkForwardUrl(options.forwardTo);
  // Heard from the start: a stop asked for while the session is being made still removes its endpoint.
  let stopWasAsked = false;
  const stopAsked = new Promise<void>((resolve) => {
    const ask = () => {
      stopWasAsked = true;
      resolve();
    };
    process.once("SIGINT", ask);
    process.once("SIGTERM", ask);
    stopWhenAdopted(ask);
  });
  const session = (await client.call("POST", "/v1/listen", credential, {
    profile: options.profile,
    ...(options.events ? { filter: options.events } : {}),
  })) as ListenSession;
  const path = `/v1/listen/${id(session.id)}`;
  const { Agent } = await import("undici");
  const local = new Agent({ connect: { timeout: 10_000 }, keepAliveTimeout: 30_000 });
  const stopper = new AbortController();
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    // The endpoint goes with the session; if Herald is gone, it removes it after its grace period.
    const removed = await client.call("DELETE", path, credential).then(
      () => true,
      () => false,
    );
    // Stopped by the user (Ctrl-C, SIGTERM): say so, and what became of the temporary endpoint.
    if (code === 0 && !json) {
      say(
        removed
          ? `stopped; endpoint ${session.endpoint.id} removed`
          : `stopped; Herald removes endpoint ${session.endpoint.id} after its grace period`,
      );
    }
    stopper.abort();
    await Promise.allSettled([local.close(), client.close()]);
    process.exit(code);
  };
  // Asked while the session was being made: remove it at once, without saying it is ready.
  if (stopWasAsked) return stop(0);
  void stopAsked.then(() => stop(0));

  if (json) {
    say(
      JSON.stringify({
        session_id: session.id,
        endpoint_id: session.endpoint.id,
        forward_to: forwardTo,
        secret: session.secret,
      }),
    );
  } else {
    say(
      `Ready! Forwarding ${options.profile} webhooks to ${forwardTo} ${dim(`(endpoint ${session.endpoint.id}, session ${session.id})`)}`,
    );
    say(signingNote(session, options.profile));
    say(dim(`Events: ${session.endpoint.filter.join(", ")}. Press Ctrl-C to stop; the endpoint is removed.`));
  }

  const handle = async (delivery: RelayedDelivery) => {
    const bytes = Buffer.from(delivery.body, "base64");
    const type = typeOf(bytes, delivery.headers);
    const result = await forward(local, forwardTo, delivery);
    await client
      .call("POST", `${path}/attempts/${id(delivery.attempt_id)}`, credential, {
        status_code: result.statusCode,
        headers: result.headers,
        body: result.body,
        error_class: result.errorClass,
        error: result.error,
      })
      .catch(() => {
        // Too late (Herald's deadline for the attempt passed): the log already says timeout.
      });
    const webhookId = delivery.headers["webhook-id"] ?? delivery.headers["x-webhook-id"] ?? null;
    const at = new Date().toISOString();
    if (json) {
      say(
        JSON.stringify({
          time: at,
          type,
          webhook_id: webhookId,
          status: result.statusCode,
          latency_ms: result.latencyMs,
          error: result.error,
        }),
      );
    } else {
      const status =
        result.statusCode === null
          ? red(`ERR ${result.errorClass}`)
          : statusColour(result.statusCode, String(result.statusCode));
      say(
        `${dim(at.slice(11, 23))}  ${type.padEnd(36)}  ${status.padEnd(3)}  ${result.latencyMs} ms${result.error ? `  ${dim(result.errorMessage ?? result.error)}` : ""}`,
      );
    }
  };

  // One stream; if it drops, reconnect to the same session while Herald keeps it (its grace period).
  for (;;) {
    try {
      const body = await client.stream(`${path}/stream`, credential, stopper.signal);
      for await (const message of serverSentEvents(body)) {
        if (message.event === "delivery") void handle(JSON.parse(message.data) as RelayedDelivery);
      }
    } catch (error) {
      // Stopping: `stop` ends the process once the session is deleted.
      if (stopping) return new Promise<never>(() => {});
      if (error instanceof CliError && /No listen session/.test(error.message)) {
        process.stderr.write(`error: Herald ended the listen session (${error.message})\n`);
        return stop(1);
      }
    }
    if (stopping) return new Promise<never>(() => {});
    if (!json) process.stderr.write(dim("connection to Herald lost; reconnecting…\n"));
    await new Promise((resolve) => setTimeout(resolve, RECONNECT_DELAY_MS));
  }
}

export function registerListenCommand(program: Command): void {
  clientCommand(program, "listen", "Forward an app's webhooks to a local URL over one connection to Herald", "app")
    .requiredOption("--forward-to <url>", "where to POST each webhook, e.g. http://localhost:3000/webhooks")
    .option(
      "--events <types>",
      "event types and wildcards, comma-separated (e.g. 'group_channel:*'); default every type",
      list,
    )
    .addOption(
      new Option("--profile <profile>", "the wire format to sign and send in").choices(PROFILES).default("standard"),
    )
    .addHelpText(
      "after",
      `
Prints one line per webhook (time, type, local status, latency); --json prints one JSON object per line.
Stops with Ctrl-C (or SIGTERM), removing its temporary endpoint.`,
    )
    .action((options: ListenOptions, command: Command) =>
      asClient(command, "app", async ({ json, client, credential }) => listen(options, client, credential, json)),
    );
}
