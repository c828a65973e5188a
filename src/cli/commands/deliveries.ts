import { type Command, Option } from "commander";
import { catalogTypes, closeTypes, fetchCatalog } from "../catalog-types.js";
import type { Credential, HeraldClient } from "../client.js";
import { CliError } from "../errors.js";
import {
  asClient,
  clientCommand,
  dim,
  green,
  id,
  more,
  queryOf,
  red,
  rows,
  say,
  show,
  statusColour,
  time,
  withPaging,
  yellow,
} from "../shared.js";

/** `herald deliveries list|get|tail|resend|recover`: the delivery log. */

export interface AttemptJson {
  attempt: number;
  started_at: string;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  error_class: string | null;
  response_body: string | null;
}

export interface DeliveryJson {
  id: string;
  event_id: string;
  endpoint_id: string;
  type: string;
  status: "pending" | "succeeded" | "failed";
  attempts: number;
  max_attempts: number;
  next_attempt_at: string | null;
  created_at: string;
  attempt_log: AttemptJson[];
}

interface RecoveryJson {
  id: string;
  endpoint_id: string;
  status: "running" | "succeeded" | "failed";
  recovered: number;
  /** Left failed: resent by hand as often as HERALD_MAX_MANUAL_RETRIES allows (absent from older servers). */
  skipped?: number;
  total: number | null;
  error?: string | null;
}

const stateColour = (status: DeliveryJson["status"]) =>
  status === "succeeded" ? green(status) : status === "failed" ? red(status) : yellow(status);

/** One delivery on one line: when, id, type, endpoint, status, last answer. */
export function describeDeliveryLine(delivery: DeliveryJson): string {
  const last = delivery.attempt_log.at(-1);
  const answer = !last
    ? dim("not tried yet")
    : last.status_code !== null
      ? `${statusColour(last.status_code, String(last.status_code))} in ${last.duration_ms} ms`
      : red(last.error_class ?? "error");
  return `${delivery.created_at}  ${delivery.id}  ${delivery.type}  ${delivery.endpoint_id}  ${stateColour(delivery.status)} (${delivery.attempts}/${delivery.max_attempts})  ${answer}`;
}

function describeDelivery(delivery: DeliveryJson): string {
  const lines = [
    `id:          ${delivery.id}`,
    `event:       ${delivery.event_id} (${delivery.type})`,
    `endpoint:    ${delivery.endpoint_id}`,
    `status:      ${stateColour(delivery.status)}, ${delivery.attempts} of ${delivery.max_attempts} attempts`,
    `created_at:  ${delivery.created_at}`,
  ];
  if (delivery.next_attempt_at) lines.push(`next:        ${delivery.next_attempt_at}`);
  for (const attempt of delivery.attempt_log) {
    const outcome =
      attempt.status_code !== null
        ? statusColour(attempt.status_code, String(attempt.status_code))
        : red(attempt.error_class ?? "error");
    lines.push(
      `attempt ${attempt.attempt}:   ${attempt.started_at}  ${outcome}  ${attempt.duration_ms} ms${attempt.error ? `  ${attempt.error}` : ""}`,
    );
    if (attempt.response_body)
      lines.push(`             ${dim(attempt.response_body.slice(0, 200).replaceAll("\n", " "))}`);
  }
  return lines.join("\n");
}

interface ListFilters {
  endpoint?: string;
  event?: string;
  status?: string;
  type?: string;
  since?: string;
  until?: string;
}
const filterQuery = (options: ListFilters) => ({
  endpoint_id: options.endpoint,
  event_id: options.event,
  status: options.status,
  type: options.type,
  created_after: options.since,
  created_before: options.until,
});
const withFilters = (command: Command) =>
  command
    .option("--endpoint <id>", "only this endpoint's deliveries")
    .option("--event <id>", "only this event's deliveries")
    .addOption(
      new Option("--status <status>", "only deliveries in this state").choices(["pending", "succeeded", "failed"]),
    )
    .option("--type <type>", "only this event type")
    .option("--since <time>", "created at or after (RFC 3339, or 15m, 2h, 7d ago)", time)
    .option("--until <time>", "created before (RFC 3339, or a duration ago)", time);

/**
 * Checks the filters before asking: a reversed window is a usage error in the CLI's own names, and a type
 * not in the catalog a warning (it can only match nothing, but an event published with it may exist).
 */
async function checkFilters(options: ListFilters, client: HeraldClient, credential: Credential): Promise<void> {
  if (options.since && options.until && options.since >= options.until) {
    throw new CliError("--since must be earlier than --until", 2);
  }
  if (options.type === undefined) return;
  const known = catalogTypes(await fetchCatalog(client, credential));
  if (known.includes(options.type)) return;
  const close = closeTypes(known, options.type, 3);
  process.stderr.write(
    `warning: no event type "${options.type}" in Herald's catalog${close.length > 0 ? `; did you mean ${close.join(", ")}?` : ""}\n`,
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `[#######        ] 40/100`, redrawn in place on a terminal's stderr. */
function progressBar(done: number, total: number | null): string {
  const width = 30;
  if (total === null || total === 0) return `recovering… ${done}`;
  const filled = Math.min(width, Math.round((done / total) * width));
  return `[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${done}/${total}`;
}

const TAIL_POLL_MS = 250;

/** `2 failed deliveries of ep_…`: what a recovery sends again (not how they fare). */
const sentAgain = (recovery: RecoveryJson) =>
  `${recovery.recovered} failed ${recovery.recovered === 1 ? "delivery" : "deliveries"} of ${recovery.endpoint_id}`;
/** What the job has gone through so far, sent again or skipped: the progress bar's count. */
const walked = (recovery: RecoveryJson) => recovery.recovered + (recovery.skipped ?? 0);
/** ` (3 skipped: resent by hand as often as allowed)`, when any were. */
const skippedNote = (recovery: RecoveryJson) =>
  recovery.skipped ? ` (${recovery.skipped} skipped: resent by hand as often as allowed)` : "";

export function registerDeliveryCommands(program: Command): void {
  const deliveries = program
    .command("deliveries")
    .alias("delivery")
    .description("The delivery log: list, follow, resend, recover");

  withPaging(withFilters(clientCommand(deliveries, "list", "List deliveries, newest first", "app"))).action(
    (options: ListFilters & { limit?: number; cursor?: string }, command: Command) =>
      asClient(command, "app", async ({ json, client, credential }) => {
        await checkFilters(options, client, credential);
        const query = queryOf({ ...filterQuery(options), limit: options.limit, cursor: options.cursor });
        const page = await client.call("GET", `/v1/deliveries${query}`, credential);
        show(
          json,
          page,
          () =>
            rows((page.deliveries as DeliveryJson[]).map(describeDeliveryLine), "no deliveries") +
            more(page.next_cursor),
        );
      }),
  );

  clientCommand(deliveries, "get", "Show a delivery with every attempt", "app")
    .argument("<id>", "the delivery's id (its webhook id)")
    .action((deliveryId: string, _options: unknown, command: Command) =>
      asClient(command, "app", async ({ json, client, credential }) => {
        const delivery = (await client.call("GET", `/v1/deliveries/${id(deliveryId)}`, credential)) as DeliveryJson;
        show(json, delivery, () => describeDelivery(delivery));
      }),
    );

  withFilters(
    clientCommand(deliveries, "tail", "Follow the delivery log: a line as each delivery appears and settles", "app"),
  ).action((options: ListFilters, command: Command) =>
    asClient(command, "app", async ({ json, client, credential }) => {
      const startedAt = Date.now();
      await checkFilters(options, client, credential);
      // What each delivery was last shown as: a line again only when it changes state.
      const shown = new Map<string, DeliveryJson["status"]>();
      let first = true;
      const stop = () => process.exit(0);
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      for (;;) {
        const query = queryOf({ ...filterQuery(options), limit: 100 });
        const page = await client.call("GET", `/v1/deliveries${query}`, credential);
        const seen = (page.deliveries as DeliveryJson[]).slice().reverse();
        for (const delivery of seen) {
          if (shown.get(delivery.id) === delivery.status) continue;
          // The first page is history, but for what was created since the command started.
          const isNew = !first || Date.parse(delivery.created_at) >= startedAt;
          if (isNew) say(json ? JSON.stringify(delivery) : describeDeliveryLine(delivery));
          shown.set(delivery.id, delivery.status);
        }
        // On stderr even with --json: scripts (and tests) can wait for it before making deliveries.
        if (first) process.stderr.write(dim("following the delivery log (Ctrl-C to stop)\n"));
        // Forget what fell off the page, so the map stays the size of a page.
        if (shown.size > 1000) for (const key of [...shown.keys()].slice(0, shown.size - 500)) shown.delete(key);
        first = false;
        await sleep(TAIL_POLL_MS);
      }
    }),
  );

  clientCommand(deliveries, "resend", "Send a finished delivery again, under the same webhook id", "app")
    .argument("<id>", "the delivery's id")
    .action((deliveryId: string, _options: unknown, command: Command) =>
      asClient(command, "app", async ({ json, client, credential }) => {
        const delivery = (await client.call(
          "POST",
          `/v1/deliveries/${id(deliveryId)}/retry`,
          credential,
        )) as DeliveryJson;
        show(json, delivery, () => `resending ${delivery.id}: ${describeDeliveryLine(delivery)}`);
      }),
    );

  clientCommand(deliveries, "recover", "Send again every failed delivery of an endpoint since a time", "app")
    .requiredOption("--endpoint <id>", "(required) the endpoint whose failed deliveries to send again")
    .requiredOption(
      "--since <time>",
      "(required) failed deliveries created at or after (RFC 3339, or 15m, 2h, 7d ago)",
      time,
    )
    .option("--until <time>", "and before (RFC 3339, or a duration ago)", time)
    .action((options: { endpoint: string; since: string; until?: string }, command: Command) =>
      asClient(command, "app", async ({ json, client, credential }) => {
        if (options.until && options.since >= options.until) {
          throw new CliError("--since must be earlier than --until", 2);
        }
        const body = { since: options.since, ...(options.until ? { until: options.until } : {}) };
        let recovery = (await client.call(
          "POST",
          `/v1/endpoints/${id(options.endpoint)}/recover`,
          credential,
          body,
        )) as RecoveryJson;
        // A bar on a terminal's stderr; piped, only the final line, so scripts read one result.
        const bar = process.stderr.isTTY === true && !json;
        while (recovery.status === "running") {
          if (bar) process.stderr.write(`\r${progressBar(walked(recovery), recovery.total)}`);
          await sleep(250);
          recovery = (await client.call("GET", `/v1/recoveries/${id(recovery.id)}`, credential)) as RecoveryJson;
        }
        if (bar) process.stderr.write(`\r${progressBar(walked(recovery), recovery.total)}\n`);
        if (recovery.status === "failed") {
          if (json) say(JSON.stringify(recovery));
          throw new CliError(
            `recovery ${recovery.id} failed after sending ${sentAgain(recovery)} again: ${recovery.error ?? "no reason given"}`,
          );
        }
        show(
          json,
          recovery,
          () => `recovery ${recovery.id} done: ${sentAgain(recovery)} sent again${skippedNote(recovery)}`,
        );
      }),
    );
}
