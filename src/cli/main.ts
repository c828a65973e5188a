import { Command, InvalidArgumentError, Option } from "commander";
import { CONFIG_VARIABLES, type HeraldConfig, loadConfig } from "../core/config.js";
import { adminTokenFile, type ResolvedAdminToken, resolveAdminToken } from "./admin-token.js";
import { adminCredential, appCredential, type Credential, HeraldClient, heraldUrl } from "./client.js";
import { CliError } from "./errors.js";
import { heraldVersion } from "./version.js";

/**
 * `herald`: `serve` and `migrate` run Herald here; every other command is a client of a running
 * Herald's HTTP API (`--url`, HERALD_URL), so it works from any directory and from other machines,
 * and never opens the database.
 */

// `herald config | head -1`: a reader that went away is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => process.exit(error.code === "EPIPE" ? 0 : 1));
}

const say = (text: string) => process.stdout.write(`${text}\n`);
/** `--json`: the API's JSON and nothing else; otherwise a few lines for people. */
const show = (json: boolean, value: unknown, human: () => string) => say(json ? JSON.stringify(value) : human());
const SHOWN_ONCE = "shown only this once: keep it now";

// Option parsers: a bad value is a usage error naming the option.
const integerAtLeast = (min: number) => (raw: string) => {
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidArgumentError(`must be an integer >= ${min}.`);
  }
  return value;
};
const list = (raw: string) =>
  raw
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
const SCOPES = ["publish", "read", "manage"];
const scopes = (raw: string) => {
  const given = list(raw);
  const unknown = given.filter((scope) => !SCOPES.includes(scope));
  if (given.length === 0 || unknown.length > 0) {
    throw new InvalidArgumentError(
      `scopes are ${SCOPES.join(", ")}${unknown.length > 0 ? `, not ${unknown.join(", ")}` : ""}.`,
    );
  }
  return [...new Set(given)];
};
const header = (raw: string, previous: Record<string, string> = {}) => {
  const at = raw.indexOf("=");
  if (at <= 0) throw new InvalidArgumentError("must be NAME=VALUE.");
  return { ...previous, [raw.slice(0, at).trim()]: raw.slice(at + 1) };
};

const program = new Command("herald")
  .description("Self-hosted webhooks for chat and calls applications.")
  .version(heraldVersion(), "-V, --version", "print Herald's version")
  .enablePositionalOptions()
  .option("--url <url>", "Herald's base URL, before the command (HERALD_URL; default http://127.0.0.1:$HERALD_PORT)")
  .option("--json", "print the API's JSON only")
  .addHelpText(
    "after",
    `
Every command but serve and migrate talks to a running Herald over HTTP.
  apps:                the admin token (HERALD_ADMIN_TOKEN, else the file herald serve writes: HERALD_ADMIN_TOKEN_FILE)
  endpoints, tokens:   --token <app token> (HERALD_API_TOKEN), or --app <app id> (HERALD_APP_ID) with the admin token`,
  );

interface ClientOptions {
  url?: string;
  json?: boolean;
  token?: string;
  app?: string;
}

interface Context {
  json: boolean;
  client: HeraldClient;
  /** The credential the command acts with. */
  credential: Credential;
}

/**
 * Runs a client command. `herald --url X …` names Herald's URL everywhere; commands whose own
 * `--url` is an endpoint's URL (endpoint create/update) take Herald's only before the command.
 */
async function asClient(
  command: Command,
  as: "admin" | "app",
  work: (context: Context) => Promise<void>,
  ownUrlIsHeralds = true,
): Promise<void> {
  const local = command.opts<ClientOptions>();
  const global = program.opts<ClientOptions>();
  const client = new HeraldClient(heraldUrl((ownUrlIsHeralds ? local.url : undefined) ?? global.url));
  try {
    const credential = as === "admin" ? adminCredential() : appCredential(local);
    await work({ json: Boolean(local.json ?? global.json), client, credential });
  } finally {
    await client.close();
  }
}

/** The options every client command takes; app-scoped ones also say which app. */
function clientCommand(parent: Command, name: string, description: string, as: "admin" | "app", heraldUrl = true) {
  const command = parent.command(name).description(description).option("--json", "print the API's JSON only");
  if (heraldUrl) command.option("--url <url>", "Herald's base URL (HERALD_URL)");
  if (as === "app") {
    command
      .option("--token <token>", "an API token of the app (HERALD_API_TOKEN)")
      .option("--app <id>", "act for this app with the admin token (HERALD_APP_ID)");
  }
  return command;
}

const pageQuery = (options: { limit?: number; cursor?: string }) => {
  const query = new URLSearchParams();
  if (options.limit !== undefined) query.set("limit", String(options.limit));
  if (options.cursor !== undefined) query.set("cursor", options.cursor);
  const text = query.toString();
  return text === "" ? "" : `?${text}`;
};
const withPaging = (command: Command) =>
  command
    .option("--limit <n>", "items per page (1-500, default 50)", integerAtLeast(1))
    .option("--cursor <cursor>", "the page after the one that printed this cursor");
const more = (next: string | null) => (next ? `\nmore: add --cursor ${next}` : "");
const id = (value: string) => encodeURIComponent(value);
const overlapBody = (overlap: number | undefined) => (overlap === undefined ? undefined : { overlap_seconds: overlap });
const overlapOption = (what: string) =>
  new Option("--overlap <seconds>", `how long ${what} stays valid (default 24 h)`).argParser(integerAtLeast(0));
const rows = (lines: string[], empty: string) => (lines.length === 0 ? empty : lines.join("\n"));

// ── serve, migrate: Herald itself ───────────────────────────────────────────────────────────────

program
  .command("serve")
  .description("Run Herald: the APIs and the delivery worker (settings from HERALD_* variables)")
  .addOption(new Option("--role <role>", "which parts run in this process").choices(["all", "api", "worker"]))
  .option("--port <port>", "HTTP port (HERALD_PORT)", integerAtLeast(0))
  .action(async (options: { role?: HeraldConfig["role"]; port?: number }) => {
    const [{ createHerald }, { createLogger }] = await Promise.all([
      import("../herald.js"),
      import("../core/logger.js"),
    ]);
    const overrides: Partial<HeraldConfig> = {
      ...(options.role ? { role: options.role } : {}),
      ...(options.port !== undefined ? { port: options.port } : {}),
    };
    const config = loadConfig(process.env, overrides);
    const logger = createLogger(config.logLevel, undefined, config.logFormat);
    // A worker serves no API: it needs no admin token, and writes no file.
    let admin: ResolvedAdminToken | undefined;
    if (config.role !== "worker") {
      admin = resolveAdminToken(process.env);
      if (admin.source === "created") {
        logger.info({ adminTokenFile: admin.file }, "admin token created in this file (the herald CLI reads it)");
      } else if (admin.source === "file") {
        logger.info({ adminTokenFile: admin.file }, "admin token read from this file");
      }
      if (admin.warning) logger.warn(admin.warning);
    }
    const herald = await createHerald({
      ...overrides,
      logger,
      ...(admin ? { adminToken: admin.token, ...(admin.file ? { adminTokenFile: admin.file } : {}) } : {}),
    });
    let stopping = false;
    const stop = async (reason: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ reason }, "shutting down");
      try {
        await herald.close();
      } catch (error) {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      }
      process.exit(0);
    };
    // A second signal while stopping takes the default action: the process ends at once.
    process.once("SIGINT", () => void stop("SIGINT"));
    process.once("SIGTERM", () => void stop("SIGTERM"));
    // Under npm (`npx herald serve`, or a script without `exec`), npm hands SIGTERM to the `sh -c`
    // between it and Herald, and sh dies without passing it on: Herald is left running, adopted by
    // another process. Being adopted is the signal, then.
    if (process.env.npm_lifecycle_event !== undefined) {
      const parent = process.ppid;
      const watch = setInterval(() => {
        if (process.ppid !== parent) void stop("the npm process that started Herald has exited");
      }, 200);
      watch.unref();
    }
    await herald.listen();
  });

program
  .command("migrate")
  .description("Bring the database schema up to date (serve also does this on start)")
  .action(async () => {
    const { openStore } = await import("../storage/open-store.js");
    const config = loadConfig();
    const store = openStore(config.databaseUrl, config);
    try {
      await store.migrate();
    } finally {
      await store.close();
    }
    say("schema up to date");
  });

// ── apps: the deployment admin ──────────────────────────────────────────────────────────────────

interface AppJson {
  id: string;
  name: string;
  created_at: string;
}
interface RotatedToken {
  app_id: string;
  api_token: string;
  previous_token_expires_at: string;
}
const describeApp = (app: AppJson) => `app_id:     ${app.id}\nname:       ${app.name}\ncreated_at: ${app.created_at}`;
const describeRotatedToken = (rotated: RotatedToken) =>
  `api_token: ${rotated.api_token}\n  (the new master token, ${SHOWN_ONCE}; it signs every webhook from now on)\n` +
  `the previous master token authenticates until ${rotated.previous_token_expires_at}`;

const apps = program.command("app").description("Manage apps (tenants), with the admin token");

clientCommand(apps, "create", "Create an app and print its id and master API token (shown only this once)", "admin")
  .requiredOption("--name <name>", "a name for the app")
  .action((options: { name: string }, command: Command) =>
    asClient(command, "admin", async ({ json, client, credential }) => {
      const created = (await client.call("POST", "/v1/apps", credential, { name: options.name })) as AppJson & {
        api_token: string;
      };
      show(
        json,
        created,
        () =>
          `${describeApp(created)}\napi_token:  ${created.api_token}\n` +
          `  (the master API token, ${SHOWN_ONCE}; it signs every webhook)`,
      );
    }),
  );

withPaging(clientCommand(apps, "list", "List apps, newest first", "admin")).action(
  (options: { limit?: number; cursor?: string }, command: Command) =>
    asClient(command, "admin", async ({ json, client, credential }) => {
      const page = await client.call("GET", `/v1/apps${pageQuery(options)}`, credential);
      show(
        json,
        page,
        () =>
          rows(
            (page.apps as AppJson[]).map((app) => `${app.id}  ${app.created_at}  ${app.name}`),
            "no apps",
          ) + more(page.next_cursor),
      );
    }),
);

clientCommand(apps, "get", "Show an app", "admin")
  .argument("<id>", "the app's id")
  .action((appId: string, _options: unknown, command: Command) =>
    asClient(command, "admin", async ({ json, client, credential }) => {
      const app = (await client.call("GET", `/v1/apps/${id(appId)}`, credential)) as AppJson;
      show(json, app, () => describeApp(app));
    }),
  );

clientCommand(apps, "rotate-token", "Give an app a new master API token; the old one keeps working a while", "admin")
  .argument("<id>", "the app's id")
  .addOption(overlapOption("the previous token"))
  .action((appId: string, options: { overlap?: number }, command: Command) =>
    asClient(command, "admin", async ({ json, client, credential }) => {
      const rotated = (await client.call(
        "POST",
        `/v1/apps/${id(appId)}/rotate-token`,
        credential,
        overlapBody(options.overlap),
      )) as RotatedToken;
      show(json, rotated, () => describeRotatedToken(rotated));
    }),
  );

clientCommand(apps, "delete", "Delete an app and everything it has: tokens, endpoints, events, deliveries", "admin")
  .argument("<id>", "the app's id")
  .action((appId: string, _options: unknown, command: Command) =>
    asClient(command, "admin", async ({ json, client, credential }) => {
      await client.call("DELETE", `/v1/apps/${id(appId)}`, credential);
      show(json, { id: appId, deleted: true }, () => `deleted app ${appId}`);
    }),
  );

const keys = apps
  .command("keys")
  .description("Manage an app's Stream API keys (api_key and api_secret), with the admin token");

interface ApiKeyJson {
  api_key: string;
  created_at: string;
  signing: boolean;
}

clientCommand(
  keys,
  "create",
  "Create an API key and secret; the newest key signs Stream webhooks (secret shown once)",
  "admin",
)
  .argument("<app_id>", "the app's id")
  .action((appId: string, _options: unknown, command: Command) =>
    asClient(command, "admin", async ({ json, client, credential }) => {
      const created = (await client.call("POST", `/v1/apps/${id(appId)}/keys`, credential)) as ApiKeyJson & {
        api_secret: string;
      };
      show(
        json,
        { api_key: created.api_key, api_secret: created.api_secret, created_at: created.created_at },
        () =>
          `api_key:     ${created.api_key}\napi_secret:  ${created.api_secret}\n` +
          `  (the secret, ${SHOWN_ONCE}; from now on it signs the app's Stream webhooks)`,
      );
    }),
  );

clientCommand(keys, "list", "List an app's API keys, newest (signing) first; secrets are never shown again", "admin")
  .argument("<app_id>", "the app's id")
  .action((appId: string, _options: unknown, command: Command) =>
    asClient(command, "admin", async ({ json, client, credential }) => {
      const listed = (await client.call("GET", `/v1/apps/${id(appId)}/keys`, credential)) as { keys: ApiKeyJson[] };
      show(json, listed, () =>
        rows(
          listed.keys.map((key) => `${key.api_key}  ${key.created_at}${key.signing ? "  (signs)" : ""}`),
          "no API keys",
        ),
      );
    }),
  );

clientCommand(keys, "revoke", "Revoke an API key: it stops authenticating at once", "admin")
  .argument("<app_id>", "the app's id")
  .argument("<api_key>", "the key to revoke")
  .action((appId: string, apiKey: string, _options: unknown, command: Command) =>
    asClient(command, "admin", async ({ json, client, credential }) => {
      await client.call("DELETE", `/v1/apps/${id(appId)}/keys/${id(apiKey)}`, credential);
      show(json, { api_key: apiKey, revoked: true }, () => `revoked API key ${apiKey}`);
    }),
  );

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
}
interface Secret {
  secret: string | null;
  public_key?: string;
}

const describeEndpoint = (endpoint: EndpointJson) => {
  const lines = [
    `id:          ${endpoint.id}`,
    `url:         ${endpoint.url}`,
    `profile:     ${endpoint.profile} (events: ${endpoint.vocabulary})`,
    `enabled:     ${endpoint.enabled ? "yes" : "no"}`,
    `filter:      ${endpoint.filter.length === 0 ? "(every type)" : endpoint.filter.join(", ")}`,
  ];
  if (endpoint.description) lines.push(`description: ${endpoint.description}`);
  for (const [name, value] of Object.entries(endpoint.headers)) lines.push(`header:      ${name}: ${value}`);
  for (const key of endpoint.signing_keys) {
    lines.push(`signing key: ${key.id} (${key.type})${key.expires_at ? `, until ${key.expires_at}` : ""}`);
  }
  if (endpoint.signing_keys.length === 0) lines.push("signing:     with the app's master API token");
  return lines.join("\n");
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
    .option("--header <name=value>", "an extra request header (repeatable; replaces all headers)", header);
};
const fieldsBody = (options: EndpointFieldOptions) => ({
  ...(options.url !== undefined ? { url: options.url } : {}),
  ...(options.description !== undefined ? { description: options.description } : {}),
  ...(options.filter !== undefined ? { filter: options.filter } : {}),
  ...(options.header !== undefined ? { headers: options.header } : {}),
});

const endpoints = program.command("endpoint").description("Manage an app's endpoints (where webhooks go)");

endpointFields(
  clientCommand(endpoints, "create", "Create an endpoint; its signing secret is shown only this once", "app", false),
  true,
)
  .addOption(new Option("--profile <profile>", "the wire format").choices(["standard", "sendbird", "sendbird-calls"]))
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
              (e) => `${e.id}  ${e.enabled ? "enabled " : "disabled"}  ${e.profile}  ${e.url}`,
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
              "nothing to change: give --url, --description, --filter, --header, --clear-headers, --enable or --disable",
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

clientCommand(endpoints, "rotate-secret", "New signing keys; the current ones keep signing beside them a while", "app")
  .argument("<id>", "the endpoint's id")
  .addOption(overlapOption("the current keys"))
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

// ── tokens: an app's API tokens (master token, or admin with --app) ─────────────────────────────

interface TokenJson {
  id: string;
  kind: string;
  preview: string;
  scopes: string[];
  created_at: string;
  expires_at: string | null;
}

const tokens = program.command("token").description("Manage an app's API tokens (needs its master token)");

clientCommand(tokens, "create", "Create a secondary API token; it never signs webhooks", "app")
  .option("--scope <scopes>", "what it may do, comma-separated: publish, read, manage (default all)", scopes)
  .action((options: { scope?: string[] }, command: Command) =>
    asClient(command, "app", async ({ json, client, credential }) => {
      const body = options.scope === undefined ? undefined : { scopes: options.scope };
      const created = (await client.call("POST", "/v1/tokens", credential, body)) as TokenJson & { token: string };
      show(
        json,
        created,
        () =>
          `id:     ${created.id}\nscopes: ${created.scopes.join(", ")}\n` +
          `token:  ${created.token}\n  (the API token, ${SHOWN_ONCE})`,
      );
    }),
  );

withPaging(clientCommand(tokens, "list", "List the app's tokens (previews only)", "app")).action(
  (options: { limit?: number; cursor?: string }, command: Command) =>
    asClient(command, "app", async ({ json, client, credential }) => {
      const page = await client.call("GET", `/v1/tokens${pageQuery(options)}`, credential);
      show(
        json,
        page,
        () =>
          rows(
            (page.tokens as TokenJson[]).map(
              (t) =>
                `${t.id}  ${t.kind.padEnd(9)}  ${t.preview}  ${t.scopes.join(",")}` +
                (t.expires_at ? `  (expires ${t.expires_at})` : ""),
            ),
            "no tokens",
          ) + more(page.next_cursor),
      );
    }),
);

clientCommand(tokens, "revoke", "Revoke a secondary token", "app")
  .argument("<id>", "the token's id (tok_…, from token list)")
  .action((tokenId: string, _options: unknown, command: Command) =>
    asClient(command, "app", async ({ json, client, credential }) => {
      await client.call("DELETE", `/v1/tokens/${id(tokenId)}`, credential);
      show(json, { id: tokenId, revoked: true }, () => `revoked token ${tokenId}`);
    }),
  );

clientCommand(tokens, "rotate-master", "Rotate the app's master token; the old one keeps working a while", "app")
  .addOption(overlapOption("the previous token"))
  .action((options: { overlap?: number }, command: Command) =>
    asClient(command, "app", async ({ json, client, credential }) => {
      const rotated = (await client.call(
        "POST",
        "/v1/tokens/master/rotate",
        credential,
        overlapBody(options.overlap),
      )) as RotatedToken;
      show(json, rotated, () => describeRotatedToken(rotated));
    }),
  );

// ── config ──────────────────────────────────────────────────────────────────────────────────────

/** Variables only the CLI's client commands read. */
const CLIENT_VARIABLES = ["HERALD_URL", "HERALD_API_TOKEN", "HERALD_APP_ID"];
const SECRET_VARIABLES = new Set(["HERALD_ADMIN_TOKEN", "HERALD_API_TOKEN", "HERALD_METRICS_TOKEN"]);

program
  .command("config")
  .description("Print the settings in effect, VAR=value: the environment's, else the defaults")
  .action(() => {
    const env = process.env;
    const lines: string[] = [];
    const problems: string[] = [];
    const line = (name: string, value: string) => {
      const raw = env[name];
      const fromEnv = raw !== undefined && raw !== "";
      const shown = SECRET_VARIABLES.has(name) ? (fromEnv ? "(set)" : "") : value;
      lines.push(`${name}=${shown}${fromEnv ? "  # from the environment" : ""}`);
    };
    for (const { env: name, default: fallback } of CONFIG_VARIABLES) {
      const raw = env[name];
      if (raw !== undefined && raw !== "") {
        try {
          loadConfig({ [name]: raw });
        } catch (error) {
          problems.push((error as Error).message);
        }
      }
      line(name, name === "HERALD_ADMIN_TOKEN_FILE" ? adminTokenFile(env) : raw || String(fallback));
    }
    for (const name of CLIENT_VARIABLES) {
      let value = env[name] ?? "";
      if (name === "HERALD_URL") {
        try {
          value = heraldUrl(undefined, env);
        } catch (error) {
          // A bad HERALD_PORT is reported once, above.
          if (env.HERALD_URL) problems.push((error as Error).message);
        }
      }
      line(name, value);
    }
    say(lines.join("\n"));
    if (problems.length > 0) throw new CliError(problems.join("; "));
  });

program.parseAsync().catch((error: unknown) => {
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(error instanceof CliError ? error.exitCode : 1);
});
