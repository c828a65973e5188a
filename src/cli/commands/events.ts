import type { Command } from "commander";
import { asClient, clientCommand, fields, id, more, queryOf, rows, show, time, withPaging } from "../shared.js";

/** `herald events list|get`: what was published. */

interface EventJson {
  id: string;
  type: string;
  created_at: string;
  payload: unknown;
  /** `GET /v1/events/{id}` only: one per endpoint it went to. */
  deliveries?: { id: string; endpoint_id: string; status: string; attempts: number }[];
}

export function registerEventCommands(program: Command): void {
  const events = program.command("events").alias("event").description("Published events: list and show");

  withPaging(clientCommand(events, "list", "List events, newest first", "app"))
    .option("--type <type>", "only this event type")
    .option("--since <time>", "created at or after (RFC 3339, or 15m, 2h, 7d ago)", time)
    .option("--until <time>", "created before (RFC 3339, or a duration ago)", time)
    .action(
      (options: { type?: string; since?: string; until?: string; limit?: number; cursor?: string }, command: Command) =>
        asClient(command, "app", async ({ json, client, credential }) => {
          const query = queryOf({
            type: options.type,
            created_after: options.since,
            created_before: options.until,
            limit: options.limit,
            cursor: options.cursor,
          });
          const page = await client.call("GET", `/v1/events${query}`, credential);
          show(
            json,
            page,
            () =>
              rows(
                (page.events as EventJson[]).map((event) => `${event.created_at}  ${event.id}  ${event.type}`),
                "no events",
              ) + more(page.next_cursor),
          );
        }),
    );

  clientCommand(events, "get", "Show an event with its payload", "app")
    .argument("<id>", "the event's id")
    .action((eventId: string, _options: unknown, command: Command) =>
      asClient(command, "app", async ({ json, client, credential }) => {
        const event = (await client.call("GET", `/v1/events/${id(eventId)}`, credential)) as EventJson;
        show(json, event, () =>
          fields([
            ["id", event.id],
            ["type", event.type],
            ["created_at", event.created_at],
            ["payload", JSON.stringify(event.payload, null, 2).replaceAll("\n", "\n            ")],
            ...(event.deliveries ?? []).map(
              (d) => ["delivery", `${d.id}  ${d.status}  ${d.endpoint_id}  attempts ${d.attempts}`] as [string, string],
            ),
            ...(event.deliveries?.length === 0
              ? [["delivery", "none (no endpoint took this type)"] as [string, string]]
              : []),
          ]),
        );
      }),
    );
}
