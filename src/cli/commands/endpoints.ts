import { type Command, Option } from "commander";
import { WIRE_FORMATS } from "../../profiles/registry.js";
import { CliError } from "../errors.js";
import {
  asClient,
  clientCommand,
  fields,
  header,
  id,
  integerOr,
  list,
  more,
  nullIf,
  overlapBody,
  overlapOption,
  pageQuery,
  rows,
  SHOWN_ONCE,
  show,
  withPaging,
} from "../shared.js";

// ── endpoints: an app's webhook targets ─────────────────────────────────────────────────────────

interface EndpointJson {
  id: string;
  url: string;
  description: string;
  profile: string;
  vocabulary: string;
  filter: string[];
  enabled: boolean;
  headers: Record<string, string>;
  signing_keys: { id: string; type: string; expires_at: string | null }[];
  disabled_reason?: string | null;
  retry_policy?: string;
  rate_limit?: number | null;
  max_concurrency?: number | null;
  breaker?: string;
}

/** The profiles an endpoint can be created with: every queued wire format in the registry (hooks are set elsewhere). */
export const ENDPOINT_PROFILES = WIRE_FORMATS.filter((format) => !format.synchronous).map((format) => format.id);

const limitOrNone = integerOr("none");
const nullIfNone = (value: number | "none") => nullIf(value, "none");
const orNone = (value: number | null | undefined, unit = "") =>
  value === null || value === undefined ? "none" : `${value}${unit}`;
interface Secret {
  secret: string | null;
  public_key?: string;
}

const describeEndpoint = (endpoint: EndpointJson) => {
  const rows: [string, string][] = [
    ["id", endpoint.id],
    ["url", endpoint.url],
    ["profile", `${endpoint.profile} (events: ${endpoint.vocabulary})`],
    ["enabled", endpoint.enabled ? "yes" : "no"],
    ["filter", endpoint.filter.length === 0 ? "(every type)" : endpoint.filter.join(", ")],
    ["breaker", endpoint.breaker ?? "closed"],
    ["rate_limit", orNone(endpoint.rate_limit, "/s")],
    ["max_concurrency", orNone(endpoint.max_concurrency)],
    ["retry_policy", endpoint.retry_policy ?? "profile"],
  ];
  if (endpoint.disabled_reason) rows.push(["disabled_reason", endpoint.disabled_reason]);
  if (endpoint.description) rows.push(["description", endpoint.description]);
  for (const [name, value] of Object.entries(endpoint.headers)) rows.push(["header", `${name}: ${value}`]);
  for (const key of endpoint.signing_keys) {
    rows.push(["signing key", `${key.id} (${key.type})${key.expires_at ? `, until ${key.expires_at}` : ""}`]);
  }
  if (endpoint.signing_keys.length === 0) rows.push(["signing", "with the app's master API token"]);
  return fields(rows);
};
const describeSecret = (secret: Secret) => {
  const lines: string[] = [];
  if (secret.secret) lines.push(`secret:      ${secret.secret}\n  (the signing secret, ${SHOWN_ONCE})`);
  if (secret.public_key) lines.push(`public_key:  ${secret.public_key}\n  (receivers verify v1a signatures with it)`);
  return lines.join("\n");
};

interface EndpointFieldOptions {
  url?: string;
  description?: string;
  filter?: string[];
  header?: Record<string, string>;
  rateLimit?: number | "none";
  maxConcurrency?: number | "none";
  retryPolicy?: string;
}
const endpointFields = (command: Command, urlRequired: boolean) => {
  const url = "the URL webhooks are POSTed to (Herald's own URL: herald --url X endpoint …, or HERALD_URL)";
  if (urlRequired) command.requiredOption("--url <url>", url);
  else command.option("--url <url>", url);
  return command
    .option("--description <text>", "a note for people")
    .option(
      "--filter <types>",
      "event types and wildcards, comma-separated (e.g. group_channel:*); empty: every type",
      list,
    )
    .option("--header <name=value>", "an extra request header (repeatable; replaces all headers)", header)
    .option(
      "--rate-limit <n|none>",
      "requests per second Herald sends it at most (1-10000); none: no limit",
      limitOrNone,
    )
    .option(
      "--max-concurrency <n|none>",
      "attempts in flight to it at once (1-1000); none: HERALD_ENDPOINT_CONCURRENCY",
      limitOrNone,
    )
    .addOption(
      new Option(
        "--retry-policy <policy>",
        "profile: the wire format's own retries; durable: 12 attempts over about three days",
      ).choices(["profile", "durable"]),
    );
};
const fieldsBody = (options: EndpointFieldOptions) => ({
  ...(options.url !== undefined ? { url: options.url } : {}),
  ...(options.description !== undefined ? { description: options.description } : {}),
  ...(options.filter !== undefined ? { filter: options.filter } : {}),
  ...(options.header !== undefined ? { headers: options.header } : {}),
  ...(options.rateLimit !== undefined ? { rate_limit: nullIfNone(options.rateLimit) } : {}),
  ...(options.maxConcurrency !== undefined ? { max_concurrency: nullIfNone(options.maxConcurrency) } : {}),
  ...(options.retryPolicy !== undefined ? { retry_policy: options.retryPolicy } : {}),
});

/** `breaker open, 50/s, 4 at once`: flow control on a list line, only what differs from the defaults but the breaker. */
const listFlow = (endpoint: EndpointJson) =>
  [
    `breaker ${endpoint.breaker ?? "closed"}`,
    ...(endpoint.rate_limit ? [`${endpoint.rate_limit}/s`] : []),
    ...(endpoint.max_concurrency ? [`${endpoint.max_concurrency} at once`] : []),
  ].join(", ");

export function registerEndpointCommands(program: Command): void {
  const endpoints = program.command("endpoint").description("Manage an app's endpoints (where webhooks go)");

  endpointFields(
    clientCommand(endpoints, "create", "Create an endpoint; its signing secret is shown only this once", "app", false),
    true,
  )
    .addOption(new Option("--profile <profile>", "the wire format (default: standard)").choices(ENDPOINT_PROFILES))
    .option("--ed25519", "standard: also sign with an ed25519 key (v1a)")
    .option("--disabled", "create it turned off")
    .action(
      (options: EndpointFieldOptions & { profile?: string; ed25519?: boolean; disabled?: boolean }, command: Command) =>
        asClient(
          command,
          "app",
          async ({ json, client, credential }) => {
            const body = {
              ...fieldsBody(options),
              ...(options.profile ? { profile: options.profile } : {}),
              ...(options.ed25519 ? { ed25519: true } : {}),
              ...(options.disabled ? { enabled: false } : {}),
            };
            const created = (await client.call("POST", "/v1/endpoints", credential, body)) as EndpointJson & Secret;
            show(json, created, () => [describeEndpoint(created), describeSecret(created)].filter(Boolean).join("\n"));
          },
          false,
        ),
    );

  withPaging(clientCommand(endpoints, "list", "List the app's endpoints, newest first", "app")).action(
    (options: { limit?: number; cursor?: string }, command: Command) =>
      asClient(command, "app", async ({ json, client, credential }) => {
        const page = await client.call("GET", `/v1/endpoints${pageQuery(options)}`, credential);
        show(
          json,
          page,
          () =>
            rows(
              (page.endpoints as EndpointJson[]).map(
                (e) =>
                  `${e.id}  ${e.enabled ? "enabled " : "disabled"}  ${e.profile}  ${e.url}  ${listFlow(e)}${e.disabled_reason ? `  (${e.disabled_reason})` : ""}`,
              ),
              "no endpoints",
            ) + more(page.next_cursor),
        );
      }),
  );

  clientCommand(endpoints, "get", "Show an endpoint", "app")
    .argument("<id>", "the endpoint's id")
    .action((endpointId: string, _options: unknown, command: Command) =>
      asClient(command, "app", async ({ json, client, credential }) => {
        const endpoint = (await client.call("GET", `/v1/endpoints/${id(endpointId)}`, credential)) as EndpointJson;
        show(json, endpoint, () => describeEndpoint(endpoint));
      }),
    );

  endpointFields(clientCommand(endpoints, "update", "Change some of an endpoint's fields", "app", false), false)
    .argument("<id>", "the endpoint's id")
    .option("--enable", "turn it on")
    .option("--disable", "turn it off")
    .option("--clear-headers", "remove every extra header")
    .action(
      (
        endpointId: string,
        options: EndpointFieldOptions & { enable?: boolean; disable?: boolean; clearHeaders?: boolean },
        command: Command,
      ) =>
        asClient(
          command,
          "app",
          async ({ json, client, credential }) => {
            if (options.enable && options.disable) throw new CliError("--enable and --disable cannot go together", 2);
            if (options.clearHeaders && options.header)
              throw new CliError("--clear-headers and --header cannot go together", 2);
            const body = {
              ...fieldsBody(options),
              ...(options.clearHeaders ? { headers: {} } : {}),
              ...(options.enable ? { enabled: true } : options.disable ? { enabled: false } : {}),
            };
            if (Object.keys(body).length === 0) {
              throw new CliError(
                "nothing to change: give --url, --description, --filter, --header, --clear-headers, --rate-limit, --max-concurrency, --retry-policy, --enable or --disable",
                2,
              );
            }
            const endpoint = (await client.call(
              "PATCH",
              `/v1/endpoints/${id(endpointId)}`,
              credential,
              body,
            )) as EndpointJson;
            show(json, endpoint, () => describeEndpoint(endpoint));
          },
          false,
        ),
    );

  clientCommand(endpoints, "delete", "Delete an endpoint; its pending deliveries end as failed", "app")
    .argument("<id>", "the endpoint's id")
    .action((endpointId: string, _options: unknown, command: Command) =>
      asClient(command, "app", async ({ json, client, credential }) => {
        await client.call("DELETE", `/v1/endpoints/${id(endpointId)}`, credential);
        show(json, { id: endpointId, deleted: true }, () => `deleted endpoint ${endpointId}`);
      }),
    );

  clientCommand(
    endpoints,
    "rotate-secret",
    "New signing keys; the current ones keep signing beside them a while",
    "app",
  )
    .argument("<id>", "the endpoint's id")
    .addOption(overlapOption("each current key"))
    .action((endpointId: string, options: { overlap?: number }, command: Command) =>
      asClient(command, "app", async ({ json, client, credential }) => {
        const rotated = (await client.call(
          "POST",
          `/v1/endpoints/${id(endpointId)}/secret/rotate`,
          credential,
          overlapBody(options.overlap),
        )) as Secret & { previous_expires_at: string };
        show(
          json,
          rotated,
          () => `${describeSecret(rotated)}\nthe previous keys keep signing until ${rotated.previous_expires_at}`,
        );
      }),
    );
}
