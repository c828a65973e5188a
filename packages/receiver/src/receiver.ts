import { Dispatcher, type DispatchOptions } from "./dispatcher.js";
import { type Handler, HandlerTable } from "./handlers.js";
import type { Inbox, InboxEvent } from "./inbox/inbox.js";
import { FAILURE_STATUS, type Verification } from "./verify/outcome.js";
import { type RawWebhookRequest, type VerifyOptions, verifyWebhook } from "./verify/verify.js";

/** Where acknowledged events wait: an inbox object, or where to open one of the built-in kinds. */
export type InboxOption = Inbox | { sqlite: string } | { postgres: string; schema?: string };

export interface ReceiverOptions extends VerifyOptions, Partial<Omit<DispatchOptions, "onError">> {
  /** Default: a SQLite file `herald-inbox.db` in the working directory. */
  inbox?: InboxOption;
  handlers?: Record<string, Handler | readonly Handler[]>;
  /** Larger bodies are refused with 413 before they are read in full. Default 4 MiB. */
  maxBodyBytes?: number;
  /** How long a handled event's key keeps deduplicating. Default 7 days. */
  dedupRetentionMs?: number;
  /** Start processing at once (default); false to only acknowledge and store. */
  autoStart?: boolean;
  onError?: (error: unknown, event?: InboxEvent) => void;
}

/** What to answer: adapters turn this into their framework's response. */
export interface ReceiverResponse {
  status: number;
  body: string;
  headers: Record<string, string>;
}

export interface Receiver {
  /** Verifies, deduplicates and stores one request; resolves once it is safe to answer. */
  handle(request: RawWebhookRequest): Promise<ReceiverResponse>;
  /** The answer for a body over `maxBodyBytes`, for adapters that stop reading early. */
  tooLarge(): ReceiverResponse;
  on(pattern: string, handler: Handler): Receiver;
  readonly maxBodyBytes: number;
  /** Resolves once the inbox is open: listen after this, so the first requests do not wait for it. */
  ready(): Promise<void>;
  start(): Promise<void>;
  /** Stops taking events and waits for running handlers (default 10 s), then closes the inbox. */
  close(timeoutMs?: number): Promise<void>;
  deadLetters(limit?: number): Promise<InboxEvent[]>;
  /** Makes dead letters due again: all of them, or those with these sequence numbers. */
  replay(seqs?: readonly number[]): Promise<number>;
  counts(): Promise<{ pending: number; done: number; dead: number }>;
}

const DEFAULTS = {
  concurrency: 8,
  maxAttempts: 8,
  retryDelaysMs: [1_000, 5_000, 30_000, 120_000, 600_000, 1_800_000],
  leaseMs: 60_000,
  pollIntervalMs: 1_000,
  maxBodyBytes: 4 * 1024 * 1024,
  dedupRetentionMs: 7 * 24 * 3600_000,
};

const HOUR_MS = 3600_000;

/** `sqlite:FILE` (or a bare path), or a PostgreSQL URL whose optional `schema` parameter names the schema. */
export function parseInbox(spec: string): InboxOption {
  if (/^postgres(ql)?:\/\//.test(spec)) {
    const url = new URL(spec);
    const schema = url.searchParams.get("schema");
    url.searchParams.delete("schema");
    return schema ? { postgres: url.toString(), schema } : { postgres: url.toString() };
  }
  return { sqlite: spec.replace(/^sqlite:/, "") };
}

/** Opens the inbox an option names (default: `herald-inbox.db` in the working directory). */
export async function openInbox(option: InboxOption | undefined): Promise<Inbox> {
  if (option && "accept" in option) return option;
  if (option && "postgres" in option) {
    const { PostgresInbox } = await import("./inbox/postgres-inbox.js");
    return new PostgresInbox({
      connectionString: option.postgres,
      ...(option.schema ? { schema: option.schema } : {}),
    });
  }
  // Loaded only when used, so runtimes without native modules can bring their own inbox.
  const { SqliteInbox } = await import("./inbox/sqlite-inbox.js");
  return new SqliteInbox({ path: option?.sqlite ?? "herald-inbox.db" });
}

const json = (status: number, value: unknown): ReceiverResponse => ({
  status,
  body: JSON.stringify(value),
  headers: { "content-type": "application/json" },
});

function refusal(verification: Extract<Verification, { ok: false }>): ReceiverResponse {
  const { reason, message } = verification;
  return json(FAILURE_STATUS[reason], { ok: false, reason, message });
}

/**
 * A webhook receiver that answers 200 only once the event is on disk, and runs handlers later,
 * from the inbox, with bounded concurrency, retries with backoff and a dead-letter list.
 */
export function createReceiver(options: ReceiverOptions): Receiver {
  const settings = { ...DEFAULTS, ...definedOnly(options) };
  const handlers = new HandlerTable();
  for (const [pattern, handler] of Object.entries(options.handlers ?? {})) handlers.add(pattern, handler);
  const onError = options.onError ?? ((error: unknown) => console.error("herald-receiver:", error));
  const inboxReady = openInbox(options.inbox);
  inboxReady.catch(() => {});
  let dispatcher: Dispatcher | undefined;
  let pruneTimer: NodeJS.Timeout | undefined;

  const prune = async (inbox: Inbox) =>
    inbox.prune(Date.now() - settings.dedupRetentionMs).catch((error) => onError(error));

  const receiver: Receiver = {
    maxBodyBytes: settings.maxBodyBytes,
    ready: async () => (await inboxReady).ready(),
    async handle(request) {
      const verification = verifyWebhook(request, options);
      if (!verification.ok) return refusal(verification);
      const { webhook } = verification;
      const inbox = await inboxReady;
      const receivedAt = Date.now();
      const stored = {
        key: webhook.id,
        profile: webhook.profile,
        type: webhook.type,
        body: webhook.body.toString("utf8"),
        receivedAt,
      };
      // With a slot free, store it already claimed and run it from memory: no claim query per event.
      const adopting = dispatcher?.hasRoom() === true;
      let seq: number | undefined;
      try {
        seq = await inbox.accept(adopting ? { ...stored, leaseMs: settings.leaseMs } : stored);
      } catch (error) {
        onError(error);
        // Not stored, so not acknowledged: the sender retries.
        return json(503, { ok: false, reason: "inbox-unavailable", message: "the event could not be stored" });
      }
      if (seq === undefined) return json(200, { ok: true, id: webhook.id, duplicate: true });
      if (adopting) dispatcher?.adopt({ ...stored, seq, attempts: 1, lastError: null }, webhook.payload);
      else dispatcher?.wake();
      return json(200, { ok: true, id: webhook.id });
    },
    tooLarge: () =>
      json(413, { ok: false, reason: "body-too-large", message: `the body exceeds ${settings.maxBodyBytes} bytes` }),
    on(pattern, handler) {
      handlers.add(pattern, handler);
      return receiver;
    },
    async start() {
      const inbox = await inboxReady;
      dispatcher ??= new Dispatcher(inbox, handlers, { ...settings, onError });
      dispatcher.start();
      await prune(inbox);
      pruneTimer ??= setInterval(() => void prune(inbox), HOUR_MS).unref();
    },
    async close(timeoutMs = 10_000) {
      clearInterval(pruneTimer);
      await dispatcher?.stop(timeoutMs);
      await (await inboxReady).close();
    },
    deadLetters: async (limit) => (await inboxReady).deadLetters(limit),
    async replay(seqs) {
      const count = await (await inboxReady).replay(seqs);
      dispatcher?.wake();
      return count;
    },
    counts: async () => (await inboxReady).counts(),
  };
  if (options.autoStart !== false) receiver.start().catch((error) => onError(error));
  return receiver;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
