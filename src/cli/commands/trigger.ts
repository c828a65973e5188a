import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { type CatalogJson, catalogTypes, closeTypes, fetchCatalog } from "../catalog-types.js";
import type { Credential, HeraldClient } from "../client.js";
import { CliError } from "../errors.js";
import { asClient, bold, clientCommand, dim, integerAtLeast, queryOf, say } from "../shared.js";
import { type DeliveryJson, describeDeliveryLine } from "./deliveries.js";

/**
 * `herald trigger <type>`: publishes the catalog's sample of a type (or a file), with `--set`
 * overrides, and prints the event id; `--wait` follows its deliveries until each has settled.
 */

/** `payload.message=hi`: a dotted path and a value (JSON when it parses as JSON, else the text). */
export interface Override {
  path: string[];
  value: unknown;
}

const override = (raw: string, previous: Override[] = []): Override[] => {
  const at = raw.indexOf("=");
  if (at <= 0) throw new InvalidArgumentError("must be PATH=VALUE, e.g. payload.message=hi.");
  const path = raw.slice(0, at).split(".");
  if (path.some((part) => part === "" || part === "__proto__" || part === "constructor" || part === "prototype")) {
    throw new InvalidArgumentError(`"${raw.slice(0, at)}" is not a field path.`);
  }
  const text = raw.slice(at + 1);
  let value: unknown = text;
  try {
    value = JSON.parse(text);
  } catch {}
  return [...previous, { path, value }];
};

type Node = Record<string, unknown> | unknown[];

/** Where `part` of `path` leads in a list: an index up to its length (one past the end appends). */
function listIndex(list: unknown[], part: string, path: readonly string[]): number {
  const index = /^\d+$/.test(part) ? Number(part) : Number.NaN;
  if (!(index <= list.length)) {
    throw new CliError(
      `--set ${path.join(".")}: "${part}" names no item of a list of ${list.length}; give an index from 0 to ${list.length}.`,
      2,
    );
  }
  return index;
}

/** Sets each override into the event, making the objects on the way; a list's items go by index. */
export function applyOverrides(
  event: Record<string, unknown>,
  overrides: readonly Override[],
): Record<string, unknown> {
  for (const { path, value } of overrides) {
    let node: Node = event;
    const step = (part: string): string | number => (Array.isArray(node) ? listIndex(node, part, path) : part);
    for (const part of path.slice(0, -1)) {
      const key = step(part);
      const holder = node as Record<string | number, unknown>;
      const next = holder[key];
      if (typeof next !== "object" || next === null) holder[key] = {};
      node = holder[key] as Node;
    }
    (node as Record<string | number, unknown>)[step(path.at(-1)!)] = value;
  }
  return event;
}

function readEventFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new CliError(
      `cannot read --file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      2,
    );
  }
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch (error) {
    throw new CliError(`--file ${file} is not JSON: ${(error as Error).message}`, 2);
  }
  if (typeof event !== "object" || event === null || Array.isArray(event)) {
    throw new CliError(`--file ${file} must hold one JSON object (an event)`, 2);
  }
  return event as Record<string, unknown>;
}

/** The catalog's sample of a type, as a fresh object; a usage error naming close types when unknown. */
function sampleOf(catalog: CatalogJson, type: string): Record<string, unknown> {
  for (const vocabulary of catalog.vocabularies) {
    const found = vocabulary.types.find((entry) => entry.type === type);
    if (found) return structuredClone(found.sample);
  }
  const close = closeTypes(catalogTypes(catalog), type);
  throw new CliError(
    `no event type "${type}" in Herald's catalog${close.length > 0 ? `; did you mean ${close.join(", ")}?` : " (herald trigger --list shows them)"}`,
    2,
  );
}

/** The types a trigger can publish, by vocabulary; Herald's own operational events are raised by Herald only. */
function listTypes(catalog: CatalogJson): string {
  const publishable = catalog.vocabularies.filter((vocabulary) => vocabulary.id !== "herald");
  const width = Math.max(...publishable.flatMap((vocabulary) => vocabulary.types.map((entry) => entry.type.length)));
  return publishable
    .map(
      (vocabulary) =>
        `${bold(vocabulary.id)} (${vocabulary.type_field})\n` +
        vocabulary.types.map((entry) => `  ${entry.type.padEnd(width)}  ${dim(entry.description)}`).join("\n"),
    )
    .join("\n\n");
}

/** The app the command acts for: `--app`/HERALD_APP_ID with the admin token, else who the token belongs to. */
export async function actingAppId(client: HeraldClient, credential: Credential): Promise<string> {
  const named = credential.headers["herald-app-id"];
  if (named) return named;
  const session = (await client.call("GET", "/v1/session", credential)) as { app?: { id: string } };
  if (!session.app) throw new CliError("cannot tell which app this credential belongs to");
  return session.app.id;
}

interface TriggerOptions {
  set?: Override[];
  file?: string;
  wait?: boolean;
  timeout: number;
  list?: boolean;
}

const settled = (deliveries: DeliveryJson[]) => deliveries.every((delivery) => delivery.status !== "pending");

export function registerTriggerCommand(program: Command): void {
  clientCommand(program, "trigger", "Publish a sample event of a type, with overrides (a test webhook)", "app")
    .argument("[type]", "an event type from the catalog, e.g. group_channel:message_send (optional with --file)")
    .option(
      "--set <path=value>",
      "override a field of the event, dotted path (repeatable; a list item by index), e.g. payload.message=hi or members.0.nickname=Ann",
      override,
    )
    .option("--file <event.json>", "publish this event instead of the catalog's sample (--set still applies)")
    .option("--list", "print the types there are samples of, and publish nothing")
    .option("--wait", "follow the event's deliveries until each has succeeded or failed, and print them")
    .option("--timeout <seconds>", "with --wait: how long to follow them", integerAtLeast(1), 60)
    .action((type: string | undefined, options: TriggerOptions, command: Command) =>
      asClient(command, "app", async ({ json, client, credential }) => {
        if (options.list) {
          const catalog = await fetchCatalog(client, credential);
          say(json ? JSON.stringify(catalog) : listTypes(catalog));
          return;
        }
        if (!type && !options.file)
          throw new CliError("give an event type, or --file event.json (--list shows the types)", 2);
        let event: Record<string, unknown>;
        if (options.file) {
          event = readEventFile(options.file);
        } else {
          event = sampleOf(await fetchCatalog(client, credential), type!);
          // The sample's app_id is a placeholder: receivers should see the app that sent it.
          if ("app_id" in event) event.app_id = await actingAppId(client, credential);
        }
        applyOverrides(event, options.set ?? []);
        const published = (await client.call("POST", "/v1/events", credential, event)) as {
          id: string;
          replayed: boolean;
        };
        if (!options.wait) {
          if (json) say(JSON.stringify(published));
          else say(published.id);
          return;
        }
        if (!json) say(`${published.id}  ${dim("(waiting for its deliveries)")}`);
        const deadline = Date.now() + options.timeout * 1000;
        let deliveries: DeliveryJson[] = [];
        for (;;) {
          const page = await client.call(
            "GET",
            `/v1/deliveries${queryOf({ event_id: published.id, limit: 500 })}`,
            credential,
          );
          deliveries = page.deliveries as DeliveryJson[];
          if (settled(deliveries) || Date.now() > deadline) break;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        if (json) {
          say(JSON.stringify({ ...published, deliveries }));
        } else if (deliveries.length === 0) {
          say("no endpoint of the app takes this type: nothing to deliver");
        } else {
          for (const delivery of deliveries) say(describeDeliveryLine(delivery));
        }
        if (!settled(deliveries)) throw new CliError(`some deliveries were still pending after ${options.timeout} s`);
        const failed = deliveries.filter((delivery) => delivery.status === "failed");
        if (failed.length > 0) {
          process.stderr.write(`failed: ${failed.map((d) => `delivery ${d.id} to ${d.endpoint_id}`).join(", ")}\n`);
          process.exitCode = 1;
        }
      }),
    );
}
